"""Resolution's recalls API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/recalls", tags=["recalls"])
