"""Intake's HTTP API: one router made of the routers of each capability."""

from fastapi import APIRouter

from services.intake.api import complaints, customers, evidence, imports, messages, public

router = APIRouter()
for part in (complaints, customers, evidence, imports, messages, public):
    router.include_router(part.router)
