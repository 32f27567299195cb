"""Feedback's case library API (案例库): anonymised resolved cases, searchable by category and text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.feedback.api.models import LibraryPage
from services.feedback.projections import CaseLibrary
from shared.bounds import Offset, limit_query
from shared.http import read_model
from shared.textinput import line
from shared.vocabulary import Category

Library = Annotated[CaseLibrary, Depends(read_model(CaseLibrary.name))]
router = APIRouter(prefix="/api/library", tags=["library"])


@router.get("", response_model=LibraryPage)
def search_library(
    library: Library,
    category: Annotated[Category | None, Query(description="only cases of this category")] = None,
    q: Annotated[
        line(200) | None,
        Query( description="words (Chinese is cut by jieba) that must all occur in the case's texts"),
    ] = None,
    limit: limit_query(100) = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Resolved cases, anonymised (no case number, ids, instants or personal data), newest resolution first:
    ``{total, limit, offset, words, entries}``; ``words`` are the query's words the search looked for."""
    return library.search(category.value if category else None, q, limit, offset)
