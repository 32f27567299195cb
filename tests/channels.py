"""The customer's side of messages in tests: a webhook receiver standing in for the SMS/app gateway, the tokens of
the links in what it received, and links issued straight into a service (as intake's ``CustomerLinkIssued``)."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID, uuid4

from shared.customerlinks import Purpose, mint
from shared.eventstore import ServiceApplication
from tests.support import wait_until
from tests.unit.helpers import message

# A link's token travels in the URL fragment (never sent to a server): ``…/answer#token=<token>``.
TOKEN_IN_LINK = re.compile(r"#token=([A-Za-z0-9_-]+)")
_issued = itertools.count(1_000_000)  # notification ids of the issued links, clear of the tests' own


class Webhook:
    """A local HTTP receiver: answers each POST with the next status of ``answers`` (then 200), keeps the bodies."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = hook.answers.pop(0) if hook.answers else 200
                hook.received.append({"status": status, "path": self.path, **body})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [r for r in self.received if 200 <= r["status"] < 300]

    def tokens(self, case_id: object, answers: str) -> list[str]:
        """The tokens of the links to ``/api/public/cases/<case_id>/<answers>`` (answer, survey) in the messages
        delivered, oldest first."""
        link = re.compile(rf"/api/public/cases/{case_id}/{answers}#token=([A-Za-z0-9_-]+)")
        return [token for r in self.delivered for token in link.findall(r["text"])]

    def next_token(self, case_id: object, answers: str, seen: int, timeout: float = 10.0) -> str:
        """The token of the link that arrives after the ``seen`` first ones (waiting for it)."""
        tokens = wait_until(lambda: (found := self.tokens(case_id, answers))[seen:] and found, timeout=timeout)
        return str(tokens[seen])


@contextmanager
def running_webhook() -> Iterator[Webhook]:
    """A webhook receiver serving for the block."""
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def issue_link(
    app: ServiceApplication, case_id: UUID, purpose: Purpose, subject: str, now: datetime, days: float = 30
) -> str:
    """A link issued to the case's customer as intake issues one, handled by ``app``; returns its token."""
    link = mint(now, timedelta(days=days))
    payload = {
        "message_event_id": str(uuid4()),
        "token_id": link.token_id,
        "token_hash": link.token_hash,
        "purpose": purpose.value,
        "subject_id": subject,
        "expires_at": link.expires_at.isoformat(),
    }
    assert app.handle(message("CustomerLinkIssued", "intake", payload, case_id=case_id, nid=next(_issued)))
    return link.token


def answered(post: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The answer ``post`` makes with a link just delivered, once the service taking it has heard of the link (its
    ``CustomerLinkIssued`` crosses NATS while the message travels to the customer; until then it is a 404, which
    changes nothing)."""
    return wait_until(lambda: (response := post()).status_code != 404 and response, timeout=timeout)
