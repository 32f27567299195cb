"""Resolution's HTTP API: one router made of the case work, returns and recalls routers."""

from fastapi import APIRouter

from services.resolution.api import cases, recalls, returns

router = APIRouter()
for part in (cases, returns, recalls):
    router.include_router(part.router)
router.include_router(cases.public)

__all__ = ["router"]
