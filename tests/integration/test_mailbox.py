"""Inbound e-mail on SQLite and on PostgreSQL: the real SMTP listener, fed by smtplib, files complaints."""

from __future__ import annotations

import hashlib
import re
import smtplib
import struct
import zlib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import pytest

from services.intake.application import Intake
from services.intake.evidence import EvidenceStore
from services.system import build_service
from shared.clock import SystemClock
from shared.contracts import Actor
from shared.logs import configure_logging
from shared.natsserver import free_port
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import event_types

CLERK = Actor(id="BJ-001-F1", role=Role.FRONTLINE, store="BJ-001")
CASE_NUMBER = re.compile(r"CMP-\d{8}-\d{6}")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(smtp_port=free_port())


@pytest.fixture
def intake(settings: Settings) -> Iterator[Intake]:
    # Built as `ombud up` builds it: the listener starts with intake and stops before its store closes.
    service = build_service("intake", settings, SystemClock())
    assert isinstance(service.app, Intake)
    yield service.app
    service.shutdown()


class Client(smtplib.SMTP):
    """smtplib's client, keeping the server's reply to the e-mail (``send_message`` drops it)."""

    reply: tuple[int, bytes]

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.reply = super().data(msg)
        return self.reply


def send(settings: Settings, message: EmailMessage, from_addr: str | None = None) -> tuple[int, str]:
    """Send ``message`` to the listener; the server's reply to it (code, text)."""
    with Client(settings.smtp_host, settings.smtp_port, timeout=10) as client:
        try:
            client.send_message(message, from_addr=from_addr)
        except smtplib.SMTPDataError:
            pass  # refused: the reply says why, and the test looks at it
    return client.reply[0], client.reply[1].decode()


def email(
    body: str,
    *,
    sender: str | None = "王芳 <wang.fang@example.cn>",
    to: str = "complaints@bj001.example",
    subject: str = "手镯断了",
    message_id: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="mail.example.cn")
    message.set_content(body)
    return message


def tiny_png() -> bytes:
    """A valid 1×1 PNG (one red pixel)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8 bits, RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # one row: no filter, then red
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def filed(intake: Intake, reply: tuple[int, str]) -> UUID:
    """The case a 250 reply names."""
    code, text = reply
    assert code == 250, text
    found = CASE_NUMBER.search(text)
    assert found, text
    return intake.case_id_for_number(found.group())


def stored_bytes(intake: Intake) -> bytes:
    return b"".join(n.state for n in intake.recorder.select_notifications(start=1, limit=1000))


def test_a_chinese_email_with_a_photo_becomes_a_complaint_with_evidence(intake: Intake, settings: Settings) -> None:
    # Given
    body = "手镯戴了一周就断了，质量太差。请回电 13800138000 或回信 wang.fang@example.cn"
    message = email(body, subject="手镯断了 请回电 13800138000", message_id="<20261125.1@mail.example.cn>")
    photo = tiny_png()
    message.add_attachment(photo, maintype="image", subtype="png", filename="手镯.png")
    # When
    case_id = filed(intake, send(settings, message))
    # Then
    complaint = intake.get_complaint(case_id)
    assert (complaint.channel, complaint.store_id, complaint.language) == ("email", "BJ-001", "zh")
    assert complaint.channel_details == {
        "message_id": "<20261125.1@mail.example.cn>",
        "subject": "手镯断了 请回电 [phone]",
        "mailbox": "complaints@bj001.example",
    }
    assert (
        complaint.description
        == "手镯断了 请回电 [phone]\n\n手镯戴了一周就断了，质量太差。请回电 [phone] 或回信 [email]"
    )
    assert b"wang.fang@example.cn" not in stored_bytes(intake) and "王芳".encode() not in stored_bytes(intake)
    contact = intake.read_contact(case_id, actor=CLERK)
    assert (contact.name, contact.email, contact.phone) == ("王芳", "wang.fang@example.cn", None)
    assert contact.description == f"手镯断了 请回电 13800138000\n\n{body}"
    received, due, evidence, _ = intake.events.get(case_id)
    assert (due.channel, due.case_number) == ("email", complaint.case_number)  # the acknowledgement is owed
    digest = hashlib.sha256(photo).hexdigest()
    assert (evidence.sha256, evidence.media_type, evidence.size, evidence.filename) == (
        digest, "image/png", len(photo), "手镯.png"
    )  # fmt: skip
    assert evidence.envelope["actor"]["id"] == "channel-email"
    assert evidence.envelope["correlation_id"] == received.envelope["correlation_id"]
    assert EvidenceStore.from_settings(settings).open(digest, intake.evidence_key(complaint.id)) == photo


def test_an_english_html_email_to_an_unmapped_mailbox_goes_to_the_default_store(
    intake: Intake, settings: Settings
) -> None:
    message = email(
        "", sender="John Smith <john.smith@example.com>", to="Help@Huilian.example", subject="Broken bracelet"
    )
    message.set_content(
        "<html><head><style>p { color: red }</style></head><body><p>The clasp broke after <b>two days</b>.</p>"
        "<p>Call me on 13912345678&nbsp;please</p></body></html>",
        subtype="html",
    )
    case_id = filed(intake, send(settings, message))
    complaint = intake.get_complaint(case_id)
    assert (complaint.store_id, complaint.language) == ("SH-001", "en")
    assert complaint.channel_details["mailbox"] == "help@huilian.example"
    assert complaint.description == "Broken bracelet\n\nThe clasp broke after two days.\n\nCall me on [phone] please"
    contact = intake.read_contact(case_id, actor=CLERK)
    assert (contact.name, contact.email) == ("John Smith", "john.smith@example.com")


def test_the_same_message_id_twice_files_one_case(intake: Intake, settings: Settings) -> None:
    message = email("表带第二次断了", message_id="<resent.7@mail.example.cn>")
    first = send(settings, message)
    again = send(settings, message)
    assert filed(intake, first) == filed(intake, again)
    assert "complaint received as" in first[1] and "already received as" in again[1]
    assert event_types(intake).count("ComplaintReceived") == 1


def test_an_email_without_from_is_refused_with_550(intake: Intake, settings: Settings) -> None:
    code, text = send(settings, email("没有发件人", sender=None), from_addr="relay@mail.example.cn")
    assert code == 550 and "From" in text
    assert event_types(intake) == []


def test_an_automatic_reply_is_accepted_but_not_filed(intake: Intake, settings: Settings) -> None:
    message = email("I am out of the office until Monday.", subject="Out of office")
    message["Auto-Submitted"] = "auto-replied"
    code, text = send(settings, message)
    assert code == 250 and "not filed" in text
    assert event_types(intake) == []


def test_an_attachment_of_a_type_not_accepted_is_skipped_and_the_complaint_kept(
    intake: Intake, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")  # to stderr, whatever an earlier test pointed the logs at
    message = email("发票在附件里，酒是假的")
    message.add_attachment(b"MZ\x90\x00" + bytes(60), maintype="application", subtype="octet-stream",
                           filename="王芳的发票.exe")  # fmt: skip
    code, text = send(settings, message)
    case_id = filed(intake, (code, text))
    assert "1 of 1 attachments not kept" in text
    assert [type(e).__name__ for e in intake.events.get(case_id)] == ["ComplaintReceived", "AcknowledgementDue"]
    logged = "".join(capsys.readouterr())
    assert "email.attachment_skipped" in logged and "type_not_accepted" in logged
    assert "王芳" not in logged and "wang.fang" not in logged


def test_an_address_in_chinese_arrives_over_smtputf8(intake: Intake, settings: Settings) -> None:
    case_id = filed(intake, send(settings, email("酒的批次不对", sender="张伟 <张伟@例子.中国>")))
    contact = intake.read_contact(case_id, actor=CLERK)
    assert (contact.name, contact.email) == ("张伟", "张伟@例子.中国")
