"""Share links: a signed, expiring, read-only address of one campaign's creatives, for someone
without the desk's token (a boss, a client). The link names the campaign and its expiry and is
signed with the desk's secret (HMAC-SHA256); nothing is stored, so a link cannot be changed to
open another campaign or to last longer, and every link dies with the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

DAYS = (1, 7, 30)  # what the desk offers
_PURPOSE = b"desk-share\x00"


def desk_secret(folder: Path, given: str | None = None) -> bytes:
    """The desk's secret: ``given`` (TRANSCREATE_DESK_SECRET), else one kept in the desk's folder
    (made once, readable by its owner only), so links and open pages survive a restart."""
    if given:
        return given.encode()
    path = folder / "secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    made = secrets.token_hex(32).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another desk on the same folder made it first: use theirs
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(made)
    return made


def sign(secret: bytes, campaign: str, days: int, now: float | None = None) -> str:
    """A share token for ``campaign``, valid ``days`` days from now."""
    expires = int((now if now is not None else time.time()) + days * 86400)
    payload = _b64(json.dumps({"c": campaign, "e": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def opened(secret: bytes, token: str, now: float | None = None) -> tuple[str, int] | None:
    """(campaign, expiry) a token grants, or None when it is forged, altered or expired."""
    payload, _, mac = token.partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        campaign, expires = str(data["c"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < (now if now is not None else time.time()):
        return None
    return campaign, expires


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, _PURPOSE + payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
