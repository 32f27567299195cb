"""The channel adapters intake delivers customer messages with, and the templates it renders them from.

* ``Templates``: jinja2 text templates under ``templates/<language>/<name>.txt`` (autoescape off: plain text);
  the first line is the subject, the rest the body.
* ``SmtpAdapter``: e-mail through the configured relay (``OMBUD_MAIL_RELAY_HOST``/``PORT``) with ``smtplib``.
* ``WebhookAdapter``: SMS, app push and chat as a JSON POST ``{channel, to, text, case_number, language}`` to
  ``OMBUD_NOTIFY_WEBHOOK_URL``; any 2xx answer means delivered.

A failure raises ``DeliveryError`` whose text never holds the recipient or the message: it goes into events and logs.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

import httpx
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, TemplateSyntaxError

from services.intake.domain.delivery import DeliveryRules, language_of
from shared.privacy import mask_contact
from shared.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class DeliveryError(Exception):
    """An attempt failed; ``final`` when trying again cannot help. The text holds no personal data."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(mask_contact(reason))
        self.reason = mask_contact(reason)
        self.final = final


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class Outgoing:
    """One message to send (in memory only: ``to`` and the text are personal data)."""

    channel: str
    to: str
    subject: str
    text: str
    case_number: str
    language: str


class Templates:
    """The customer message templates, in Chinese and English."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self.directory = directory
        # Plain text, not HTML: nothing to escape. A value a template names but the message lacks renders empty.
        self.env = Environment(loader=FileSystemLoader(str(directory)), autoescape=False)

    def names(self) -> list[str]:
        """The templates there are (those of the Chinese set)."""
        return sorted(p.stem for p in (self.directory / "zh").glob("*.txt"))

    def render(self, name: str, language: str, values: dict[str, Any]) -> Rendered:
        """The subject and body of template ``name`` in ``language`` (zh or en; anything else zh).
        ``DeliveryError`` (final) for an unknown template or one that does not render."""
        if not name or not name.replace("_", "").isalnum():
            raise DeliveryError(f"unknown template {name!r}", final=True)
        try:
            template = self.env.get_template(f"{language_of(language)}/{name}.txt")
        except TemplateNotFound:
            raise DeliveryError(f"unknown template {name!r} (known: {', '.join(self.names())})", final=True) from None
        except TemplateSyntaxError as error:
            raise DeliveryError(f"template {name!r} is broken: line {error.lineno}", final=True) from None
        try:
            text = template.render(**values)
        except Exception as error:  # noqa: BLE001 - a template fault is the message's, not the worker's
            raise DeliveryError(f"template {name!r} failed to render: {type(error).__name__}", final=True) from None
        subject, _, body = text.partition("\n")
        return Rendered(subject=subject.strip(), body=body.strip() + "\n")


class Adapter(Protocol):
    def send(self, message: Outgoing) -> None: ...


class SmtpAdapter:
    """E-mail through an SMTP relay."""

    def __init__(self, host: str, port: int, sender: str, timeout: float) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, message: Outgoing) -> None:
        if self.port <= 0:
            raise DeliveryError("no outgoing mail relay is configured (OMBUD_MAIL_RELAY_PORT)")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain="ombud.example")
        mail["Content-Language"] = "zh-CN" if message.language == "zh" else "en"
        mail["X-Ombud-Case"] = message.case_number
        mail.set_content(message.text, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            reason = f"the mail relay refused the recipient (SMTP {codes})"
            raise DeliveryError(reason, final=_permanent(codes)) from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(f"the mail relay answered SMTP {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"the mail relay could not be reached ({type(error).__name__})") from None


def _permanent(codes: list[int]) -> bool:
    # 5xx for the recipient: the address does not exist; sending again cannot help.
    return bool(codes) and all(500 <= code < 600 for code in codes)


class WebhookAdapter:
    """SMS, app push and chat through the chain's notification gateway: one JSON POST per message."""

    def __init__(self, url: str | None, timeout: float) -> None:
        self.url, self.timeout = url, timeout

    def send(self, message: Outgoing) -> None:
        if not self.url:
            raise DeliveryError("no notification webhook is configured (OMBUD_NOTIFY_WEBHOOK_URL)")
        body = {
            "channel": message.channel,
            "to": message.to,
            "text": message.text,
            "case_number": message.case_number,
            "language": message.language,
        }
        try:
            answer = httpx.post(self.url, json=body, timeout=self.timeout)
        except httpx.HTTPError as error:
            raise DeliveryError(f"the webhook could not be reached ({type(error).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryError(f"the webhook answered HTTP {answer.status_code}")


class ChannelAdapters:
    """The adapter for each outgoing channel."""

    def __init__(self, email: Adapter, webhook: Adapter) -> None:
        self.by_channel: dict[str, Adapter] = {"email": email, "sms": webhook, "app": webhook, "chat": webhook}

    @classmethod
    def from_settings(cls, settings: Settings, rules: DeliveryRules) -> ChannelAdapters:
        return cls(
            SmtpAdapter(settings.mail_relay_host, settings.mail_relay_port, rules.mail_from, rules.timeout_seconds),
            WebhookAdapter(settings.notify_webhook_url, rules.timeout_seconds),
        )

    def send(self, message: Outgoing) -> None:
        adapter = self.by_channel.get(message.channel)
        if adapter is None:
            raise DeliveryError(f"no adapter for channel {message.channel!r}", final=True)
        adapter.send(message)
