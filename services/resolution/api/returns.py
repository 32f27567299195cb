"""Resolution's returns API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/returns", tags=["returns"])
