"""Secrets never leave in what a provider sent back: `Redactor` removes every configured key (as
sent, URL-encoded, JSON-escaped or inside base64) from errors, logs, manifests and the terminal;
`install_log_scrubbing` (the root calls it) cleans the HTTP libraries' own log records.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

from transcreate.errors import EditError


class Redactor:
    """Removes every configured secret from text a provider sent, before it reaches an
    exception, a log, a manifest, an audit line or the terminal.

    A server may echo a key as it was sent (``Bearer sk-…``), URL-encoded, JSON-escaped, or
    inside base64 (a Basic auth header, an encoded request dump): each form is removed. Base64
    is matched at all three byte alignments, so a key in the middle of a longer encoded text is
    found too. Any ``Bearer <token>`` goes as well, whatever the token.
    """

    #: what a removed secret is replaced with
    MASK = "***"
    #: secrets shorter than this are not searched for: they would mask ordinary words
    MIN_LENGTH = 6

    def __init__(self, secrets: Iterable[str] = (), *, scrub_logs: bool = True):
        """``scrub_logs``: also remove these secrets from the HTTP libraries' log records."""
        chosen = [secret for secret in secrets if len(secret) >= self.MIN_LENGTH]
        forms: set[str] = set()
        for secret in chosen:
            forms |= _encodings(secret)
        alternatives = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
        alternatives.append(r"(?i:bearer)\s+[^\s\"',;]+")
        self._pattern = re.compile("|".join(alternatives))
        if scrub_logs and chosen:
            _LOG_SCRUBBER.add(chosen)

    def __call__(self, text: str) -> str:
        return self._pattern.sub(lambda match: _masked(match.group(0)), text)


class _LogScrubber(logging.Filter):
    """Removes every secret a Redactor was made for from the HTTP libraries' own log records:
    httpcore logs response headers at DEBUG, and a server may echo a key in one."""

    SOURCES = (
        "httpx",
        "httpcore.connection",
        "httpcore.http11",
        "httpcore.http2",
        "httpcore.proxy",
    )

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._redact: Redactor | None = None
        self._lock = threading.Lock()

    def install(self) -> None:
        """On the HTTP libraries' loggers (once: a filter already there is not added again)."""
        for name in self.SOURCES:  # a logger's filters see only the records it makes itself
            logging.getLogger(name).addFilter(self)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            wanted = self._secrets | set(secrets)
            if wanted != self._secrets:
                self._secrets = frozenset(wanted)
                self._redact = Redactor(wanted, scrub_logs=False)

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redact
        if redact is not None:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, ()
        return True


def _masked(found: str) -> str:
    if found[:6].lower() == "bearer":
        return found[:6] + " " + Redactor.MASK
    return Redactor.MASK


def _encodings(secret: str) -> set[str]:
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for offset in range(3):
        # The characters that depend only on the secret's bytes when it starts `offset`
        # bytes into a base64 quantum: 6-bit groups wholly inside the secret.
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start, end = -(-offset * 8 // 6), (offset + len(raw)) * 8 // 6
        core = encoded[start:end]
        if len(core) >= Redactor.MIN_LENGTH:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return forms


_LOG_SCRUBBER = _LogScrubber()


@contextlib.contextmanager
def scrubbed(redact: Redactor) -> Iterator[None]:
    """The boundary of a provider's code: every EditError leaving it has its message passed
    through ``redact`` (same class, same retry advice), and no chained exception goes with it."""
    try:
        yield
    except EditError as error:
        clean = copy.copy(error)
        clean.args = tuple(redact(str(arg)) for arg in error.args)
        raise clean from None


def install_log_scrubbing() -> None:
    """Clean the HTTP libraries' own log records of every secret a `Redactor` was made for
    (httpcore logs response headers at DEBUG, and a server may echo a key in one). The root
    installs it when it builds a model editor; importing this module changes no logger."""
    _LOG_SCRUBBER.install()
