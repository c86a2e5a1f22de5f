"""Sending email: SMTP, the console (development) and memory (tests), behind one small interface."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol, TextIO

log = logging.getLogger(__name__)


class MailError(Exception):
    """The message could not be handed to the mail server; it stays owed and is tried again."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SMTPMailer:
    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    def send(self, message: EmailMessage) -> None:
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(f"{self.host}:{self.port}: {error}") from None
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            # A refusal names the recipient ("550 <ada@example.org>: no such user"); the error is
            # logged and kept with the message, so the address is left out of it.
            raise MailError(_without_addresses(f"{self.host}:{self.port}: {error}", message)) from None
        finally:
            _hang_up(client)

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def _without_addresses(text: str, message: EmailMessage) -> str:
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    for _, address in getaddresses(fields):
        if address:
            text = re.sub(re.escape(address), "<recipient>", text, flags=re.IGNORECASE)
    return text


def _hang_up(client: smtplib.SMTP) -> None:
    """Say goodbye, ignoring a server that answers QUIT badly: once accepted, a message is sent.

    (`with smtplib.SMTP(...)` raises on such a QUIT, which would have the message sent again.)
    """
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


class ConsoleMailer:
    """Prints each message, for a laptop without a mail server."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: EmailMessage) -> None:
        stream = self.stream or sys.stderr
        text = message.get_body(preferencelist=("plain",))
        stream.write(
            f"\n--- email to {message['To']}: {message['Subject']}\n"
            f"{text.get_content() if text else ''}"
            f"--- attachments: {[part.get_filename() for part in message.iter_attachments()]}\n"
        )
        stream.flush()


class MemoryMailer:
    """Keeps messages in a list, for tests."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.outbox.append(message)
