"""Inbound e-mail: an SMTP listener (aiosmtpd) that files each e-mail it receives as a complaint on channel ``email``.

The sender (From) becomes the customer, subject and text the description, attachments evidence; the
recipient mailbox picks the store (``config/mailboxes.yaml``). The customer is answered through the usual
acknowledgement flow (``AcknowledgementDue``); the SMTP reply only tells the sending server the case number.
``Message-ID`` is the idempotency key, so a re-delivered e-mail files no second case.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any
from uuid import UUID, uuid4

import structlog
from aiosmtpd.controller import Controller
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.intake.application import Intake
from services.intake.domain import ComplaintRecord, Customer, receiver_of
from services.intake.evidence import EvidenceStore, EvidenceTooLarge, store_and_attach
from shared.configfiles import load_config
from shared.contracts import Actor
from shared.errors import DomainError, InvalidValue
from shared.logs import safe_error
from shared.privacy import mask_contact
from shared.settings import Settings
from shared.textinput import scrub_line, scrub_text
from shared.vocabulary import Channel

log = structlog.get_logger()

AUTOMATIC = "250 2.6.0 Automatic message received; it is not filed as a complaint"
NO_SENDER = "550 5.1.7 No sender address in From: there is no one to answer, so the e-mail was not filed as a complaint"
NO_TEXT = "550 5.6.0 The e-mail has no text: please write the complaint in the message body"
UNREADABLE = "550 5.6.0 The e-mail could not be read, so it was not filed as a complaint"
TRY_LATER = "451 4.3.0 The complaint could not be saved just now; please send it again later"
ATTACHMENT_NOTE = "e-mail attachment"
# An SMTP reply line is at most 512 octets, code and CRLF included.
MAX_REPLY_TEXT = 400
FILING_THREADS = 4
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _max_length(model: type[BaseModel], field: str) -> int:
    return next(m.max_length for m in model.model_fields[field].metadata if getattr(m, "max_length", None))


DESCRIPTION_MAX = _max_length(ComplaintRecord, "description")
NAME_MAX = _max_length(Customer, "name")


class MailboxConfig(BaseModel):
    """``config/mailboxes.yaml``: the store a complaint e-mailed to each mailbox is filed against."""

    model_config = ConfigDict(extra="forbid")

    default_store: str = Field(min_length=1)
    mailboxes: dict[str, str] = Field(default_factory=dict)

    @field_validator("mailboxes")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return {address.strip().lower(): store for address, store in value.items()}

    def stores(self) -> set[str]:
        """Every store the file names."""
        return {self.default_store, *self.mailboxes.values()}

    def route(self, recipients: list[str]) -> tuple[str, str]:
        """The mailbox an e-mail went to and its store: the first recipient with a store of its own, else the
        first recipient and the default store."""
        addresses = [recipient.strip().lower() for recipient in recipients]
        for address in addresses:
            if address in self.mailboxes:
                return address, self.mailboxes[address]
        return addresses[0], self.default_store


@dataclass(frozen=True)
class Attachment:
    """A file attached to an e-mail, as sent (its declared type is only what the sender claims)."""

    filename: str | None
    declared_type: str
    data: bytes


@dataclass(frozen=True)
class InboundEmail:
    """An e-mail read as a complaint: the record, the idempotency key and the attached files."""

    record: ComplaintRecord
    idempotency_key: str
    attachments: list[Attachment]


class Unfiled(Exception):
    """The e-mail is not filed as a complaint: ``reply`` is the SMTP answer, ``reason`` a word for the log."""

    def __init__(self, reply: str, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply
        self.reason = reason


def read_email(raw: bytes, recipients: list[str], config: MailboxConfig) -> InboundEmail:
    """Read a received e-mail as a complaint on channel ``email``; ``Unfiled`` says why it cannot be one.

    An automatic message (``Auto-Submitted`` other than ``no``, RFC 3834) is never a complaint: answering
    it with an acknowledgement could start a mail loop.
    """
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if str(message.get("Auto-Submitted", "no")).strip().lower() != "no":
        raise Unfiled(AUTOMATIC, "automatic")
    sender = _sender(message)
    if sender is None:
        raise Unfiled(NO_SENDER, "no_sender")
    name, address = sender
    body = scrub_text(_body_text(message))
    if not body.strip():
        raise Unfiled(NO_TEXT, "no_text")
    # Filed whatever the sender's client wrote: characters the record form refuses are dropped, not refused.
    subject = scrub_line(_tidy(_unescaped(str(message.get("Subject", "")))))
    message_id = scrub_line(_unescaped(str(message.get("Message-ID", ""))).strip())
    mailbox, store_id = config.route(recipients)
    text = f"{subject}\n\n{body}" if subject else body
    # channel_details stay on the event in clear, so the subject is masked like the description.
    details = {"message_id": message_id, "subject": mask_contact(subject, {"name": name, "email": address}),
               "mailbox": mailbox}  # fmt: skip
    try:
        record = ComplaintRecord(
            channel=Channel.EMAIL,
            channel_details={key: value for key, value in details.items() if value},
            customer=Customer(name=name, email=address),
            store_id=store_id,
            description=text[:DESCRIPTION_MAX],
            language="zh" if _CJK.search(text) else "en",
        )
    except ValidationError as error:
        problems = "; ".join(
            ".".join(map(str, e["loc"])) + (": " if e["loc"] else "") + e["msg"]
            for e in error.errors(include_input=False, include_url=False)
        )
        raise Unfiled(_refusal(problems), "invalid") from error
    # Without a Message-ID, the same bytes delivered again are still the same e-mail.
    key = f"email:{message_id}" if message_id else f"email:sha256:{hashlib.sha256(raw).hexdigest()}"
    return InboundEmail(record=record, idempotency_key=key, attachments=list(_attachments(message)))


class ComplaintHandler:
    """aiosmtpd handler: files each e-mail received as a complaint and answers with its case number."""

    def __init__(self, intake: Intake, config: MailboxConfig, evidence: EvidenceStore) -> None:
        self.intake = intake
        self.config = config
        self.evidence = evidence
        # Filing writes to the store, so it runs off the SMTP loop (which keeps serving other clients);
        # a pool of our own lets ``close`` wait for the e-mails being filed before the store closes.
        self.executor = ThreadPoolExecutor(max_workers=FILING_THREADS, thread_name_prefix="mailbox")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for a complete e-mail: file it on a worker thread and reply."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self.file, envelope.content, list(envelope.rcpt_tos), envelope.mail_from
        )

    def file(self, raw: bytes, recipients: list[str], mail_from: str) -> str:
        """File one e-mail as a complaint. The SMTP reply: 250 with the case number; 550 with the reason it
        cannot be a complaint; 451 (the sender tries again) if saving failed.

        A repeat (same Message-ID) answers with the first case's number; its attachments are attached
        again, which changes nothing unless an earlier try stopped half-way.
        """
        correlation_id = uuid4()
        with structlog.contextvars.bound_contextvars(correlation_id=str(correlation_id)):
            try:
                if not mail_from:  # the null reverse-path: a bounce (RFC 5321 4.5.5)
                    raise Unfiled(AUTOMATIC, "bounce")
                email = read_email(raw, recipients, self.config)
            except Unfiled as unfiled:
                log.info("email.not_filed", reason=unfiled.reason)
                return unfiled.reply
            except Exception as error:  # noqa: BLE001 - whatever a sender wrote must not stop the listener
                log.warning("email.not_filed", reason="unreadable", error=type(error).__name__)
                return UNREADABLE
            try:
                return self._file(email, correlation_id)
            except DomainError as error:
                log.info("email.not_filed", reason="refused", error=type(error).__name__)
                return _refusal(str(error))
            except Exception as error:  # noqa: BLE001 - the sending server keeps the e-mail and tries again
                log.error("email.filing_failed", error=safe_error(error))
                return TRY_LATER

    def _file(self, email: InboundEmail, correlation_id: UUID) -> str:
        receipt = self.intake.receive_complaint(
            email.record, idempotency_key=email.idempotency_key, correlation_id=correlation_id
        )
        with structlog.contextvars.bound_contextvars(case_id=str(receipt.case_id)):
            skipped = self._attach(receipt.case_id, email.attachments, receiver_of(email.record), correlation_id)
            log.info("email.filed", case_number=receipt.case_number, created=receipt.created,
                     attachments=len(email.attachments), skipped=skipped)  # fmt: skip
        text = (
            f"complaint received as {receipt.case_number}"
            if receipt.created
            else (f"already received as {receipt.case_number}")
        )
        if skipped:
            text += f"; {skipped} of {len(email.attachments)} attachments not kept (only photos, video and PDF"
            text += f" up to {self.evidence.max_bytes / 1e6:g} MB)"
        return f"250 2.0.0 OK: {text}"

    def _attach(self, case_id: UUID, attachments: list[Attachment], actor: Actor, correlation_id: UUID) -> int:
        # Stores each file, then records it on the case; a file refused is skipped. Returns how many were.
        skipped = 0
        for number, attachment in enumerate(attachments, 1):
            try:
                store_and_attach(
                    self.intake,
                    self.evidence,
                    case_id,
                    io.BytesIO(attachment.data),
                    attachment.filename,
                    actor=actor,
                    note=ATTACHMENT_NOTE,
                    correlation_id=correlation_id,
                )
            except DomainError as error:
                # The kind of refusal only: the error's text names the file, and a file name can name a person.
                reason = (
                    "too_large" if isinstance(error, EvidenceTooLarge)
                    else "type_not_accepted" if isinstance(error, InvalidValue)
                    else type(error).__name__
                )  # fmt: skip
                log.warning("email.attachment_skipped", attachment=number, reason=reason,
                            declared_type=attachment.declared_type, size=len(attachment.data))  # fmt: skip
                skipped += 1
        return skipped

    def close(self) -> None:
        """Wait for the e-mails being filed."""
        self.executor.shutdown(wait=True)


class Mailbox:
    """The SMTP listener on ``settings.smtp_host``:``settings.smtp_port``, filing e-mails into ``intake``.

    aiosmtpd's threaded ``Controller`` runs it on an event loop and thread of its own: ``build_service``
    is synchronous and runs before uvicorn (or a command) has a loop to share, and a slow or hostile SMTP
    client then never holds up the HTTP loop. Intake is already used from worker threads by the HTTP API.
    """

    def __init__(self, intake: Intake, settings: Settings) -> None:
        self.config = load_config(settings.config_dir / "mailboxes.yaml", MailboxConfig)
        unknown = sorted(self.config.stores() - set(intake.master_data.stores))
        if unknown:
            raise ValueError(f"mailboxes.yaml names stores the master data does not have: {', '.join(unknown)}")
        self.handler = ComplaintHandler(intake, self.config, EvidenceStore.from_settings(settings))
        self.controller = Controller(
            self.handler,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            # Looked up once here; aiosmtpd would look it up again for every connection.
            server_hostname=socket.getfqdn(),
            # Room for one attachment of the largest size evidence may have (base64 adds a third) and the text.
            data_size_limit=settings.evidence_max_bytes * 4 // 3 + settings.max_body_bytes,
            enable_SMTPUTF8=True,
        )

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self.controller.port)

    def start(self) -> Mailbox:
        """Listen; returns once the port accepts connections (an error if it cannot be had)."""
        # aiosmtpd logs every SMTP command at INFO, the sender's and recipients' addresses with them.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        log.info("mailbox.listening", host=self.controller.hostname, port=self.port)
        return self

    def stop(self) -> None:
        """Stop listening, then wait for the e-mails being filed (so the store may close next)."""
        self.controller.stop()
        self.handler.close()


def _sender(message: EmailMessage) -> tuple[str, str] | None:
    # The first address in From with a domain: (name, address); the name falls back to the local part.
    header = message.get("From")
    for address in getattr(header, "addresses", ()):
        if address.username and address.domain:
            name = _unescaped(address.display_name).strip() or _unescaped(address.username)
            return scrub_line(name, NAME_MAX), _unescaped(address.addr_spec)
    return None


def _body_text(message: EmailMessage) -> str:
    # The plain-text body, else the HTML one without its tags.
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except LookupError:  # a charset Python does not know: read it as UTF-8, whatever does not fit replaced
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if part.get_content_subtype() == "html":
        text = _html_text(text)
    return _tidy(text)


def _attachments(message: EmailMessage) -> Iterator[Attachment]:
    # Every file, wherever it sits (mixed, related, a forwarded message); text parts not attached are the body.
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_content_maintype() != "text":
            filename = _unescaped(part.get_filename() or "") or None
            yield Attachment(filename=filename, declared_type=part.get_content_type(),
                             data=part.get_payload(decode=True) or b"")  # fmt: skip


class _HtmlText(HTMLParser):
    """The text of an HTML body: tags dropped, blocks on lines of their own, scripts and styles left out."""

    BLOCKS = frozenset({"br", "p", "div", "li", "tr", "table", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"})
    HIDDEN = frozenset({"head", "script", "style", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _tidy(text: str) -> str:
    # Runs of spaces to one, blank lines to at most one, no space at either end.
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _unescaped(text: str) -> str:
    # Raw UTF-8 in headers (an SMTPUTF8 e-mail) reaches the parser's strings as escaped bytes.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _refusal(reason: str) -> str:
    return f"550 5.6.0 Not filed as a complaint: {' '.join(reason.split())}"[:MAX_REPLY_TEXT]
