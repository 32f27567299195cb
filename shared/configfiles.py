"""Policies are data in ``config/``: YAML files validated by pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def load_config(path: Path, model: type[M]) -> M:
    """Read a YAML file and validate it; a wrong file fails at start with the field named."""
    with open(path, encoding="utf-8") as f:
        return model.model_validate(yaml.safe_load(f))
