"""Completion callbacks: a signed JSON event POSTed when a run ends (like Dify's
``workflow.completed`` webhook). Failures are retried, logged and never fail the run."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from transcreate.addresses import UnresolvedHost, guarded_client, private_address
from transcreate.settings import ALLOW_PRIVATE_CALLBACKS_VARIABLE

logger = logging.getLogger("transcreate")

SIGNATURE_HEADER = "X-Transcreate-Signature"


def signature(body: bytes, secret: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes, as GitHub-style webhooks do."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str, secret: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(signature(body, secret), header)


def shown(url: str) -> str:
    """The callback's address as logs may show it: scheme, host and path, without a user name,
    a password or a query (where receivers put their tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _refusal(url: str, private_hosts: frozenset[str]) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http(s) addresses receive callbacks"
    if "*" in private_hosts or parts.hostname.lower() in private_hosts:
        return None
    try:
        private = private_address(parts.hostname)
    except UnresolvedHost:
        return None  # the POST says it cannot connect, and is retried as any other failure
    if private:
        return (
            f"it leads to a private address ({parts.hostname}); to send callbacks inside your "
            f"network, name the host in {ALLOW_PRIVATE_CALLBACKS_VARIABLE}"
        )
    return None


class _Undelivered(Exception):
    pass


def send_completion(
    url: str,
    event: Mapping[str, Any],
    *,
    secret: str | None,
    attempts: int = 4,
    wait: float = 1.0,
    timeout: float = 10.0,
    private_hosts: frozenset[str] = frozenset(),
) -> bool:
    """POST the event; True when the receiver accepted it (2xx). Never raises.

    The address rule of every link the product fetches holds here too (`transcreate.addresses`):
    no private, loopback or link-local receiver unless its host is in ``private_hosts`` ("*":
    any), so a run's parameters cannot aim a signed POST inside the worker's network."""
    refusal = _refusal(url, private_hosts)
    if refusal:
        logger.warning("callback %s refused: %s", shown(url), refusal)
        return False
    body = json.dumps(event, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "transcreate"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(body, secret)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=wait, max=60),
            retry=retry_if_exception_type(_Undelivered),
            reraise=True,
        ):
            with attempt:
                try:
                    # the rule again as the connection is made: no DNS-rebinding window
                    with guarded_client(private_hosts, 2 * timeout, timeout=timeout) as client:
                        response = client.post(url, content=body, headers=headers)
                except httpx.HTTPError as error:
                    # httpx's message may quote the URL, token and all: only its kind is said
                    raise _Undelivered(type(error).__name__) from None
                if response.status_code >= 500 or response.status_code == 429:
                    raise _Undelivered(f"HTTP {response.status_code}")
                if not response.is_success:
                    logger.warning(
                        "callback %s refused the event: HTTP %s", shown(url), response.status_code
                    )
                    return False
        return True
    except _Undelivered as error:
        logger.warning(
            "callback %s not delivered after %d attempts: %s", shown(url), attempts, error
        )
        return False
