"""structlog JSON logs: service, case id and correlation id on every line; personal data never.

Context is bound per request or message with ``structlog.contextvars``; the redaction processor
is the last line of defence should a personal field ever be passed to a logger by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from shared.masking import mask_patterns

PERSONAL_KEYS = frozenset({"name", "phone", "email", "address", "customer", "contact", "member_id", "body", "password"})
_REDACTED = "[redacted]"
# Inside rendered text (an exception's message, a traceback): the value after a personal key in a dict or
# keyword repr (``'name': '王芳'``, ``phone="138…"``), and pydantic's echo of the input. Each value is bounded,
# so the scan stays linear however long the text.
_KEYED = re.compile(
    r"""(?P<key>['"]?\b(?:%s)\b['"]?\s*[:=]\s*)(?P<value>'[^'\n]{0,1000}'|"[^"\n]{0,1000}"|[^\s,)}\]]{1,200})"""
    % "|".join(sorted(PERSONAL_KEYS))
)
_PYDANTIC_INPUT = re.compile(r"input_value=[^\n]{0,2000}?(?=, input_type=)")
_ALWAYS = ("service", "case_id", "correlation_id")
_defaults: dict[str, str | None] = {"service": None}


def redact_text(text: str) -> str:
    """``text`` with e-mail addresses, phone and identity card numbers, and values of personal keys redacted."""
    text = _PYDANTIC_INPUT.sub("input_value=" + _REDACTED, text)
    text = _KEYED.sub(lambda found: found.group("key") + _REDACTED, text)
    return mask_patterns(text, _REDACTED, _REDACTED, _REDACTED)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Runs after ``format_exc_info``: a rendered traceback (``exception``) is text like any other.
    for key in list(event_dict):
        if key in PERSONAL_KEYS:
            event_dict[key] = _REDACTED
        elif isinstance(event_dict[key], str) and key not in ("timestamp", "level") and not key.endswith("id"):
            event_dict[key] = redact_text(event_dict[key])
    return event_dict


def _always_present(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in _ALWAYS:
        if event_dict.get(key) is None:
            event_dict[key] = _defaults.get(key)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", stream: Any = None, service: str | None = None) -> None:
    """JSON lines on stderr for structlog and for the standard library (uvicorn, nats).

    ``service`` names the process's service(s) on lines that are not about one request or message.
    """
    _defaults["service"] = service
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _always_present,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _redact, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStderr()),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or _CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def safe_error(error: BaseException) -> str:
    """An error for a log line: validation errors name fields and types, never the input values."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            details = errors(include_input=False, include_url=False)
        except TypeError:
            details = None
        if details is not None:
            return f"{type(error).__name__}: " + "; ".join(
                f"{'.'.join(map(str, d.get('loc', ())))} {d.get('type')}" for d in details
            )
    return f"{type(error).__name__}: {error}"
