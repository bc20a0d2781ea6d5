"""The inputs a campaign manager can hand over: a path on the worker, an ``s3://`` URI, an
``https://`` link (a published sheet's CSV export, a presigned link, a shared-drive direct link), or
the campaign's rows pasted as text.

Links are fetched like model results are: with timeouts, a size limit, a content-type check, and
never from a private, loopback or link-local address, on the first hop or after any redirect. A
private network's own file server can be allowed by name (``allow_private``, which the root reads
from ``TRANSCREATE_ALLOW_PRIVATE_INPUTS``: ``files.intranet,10.0.0.5``; ``1`` allows every host):
those hosts may also use plain ``http://``.
"""

from __future__ import annotations

import email.message
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from transcreate.addresses import UnresolvedHost, guarded_client, private_address
from transcreate.errors import CampaignError
from transcreate.settings import ALLOW_PRIVATE_VARIABLE
from transcreate.sheets import split_sheet

What = Literal["campaign", "glossary", "image", "translations", "looks"]

MAX_CAMPAIGN_BYTES = 20 * 1024 * 1024  # a sheet of tens of thousands of rows is far smaller
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # per connect / read
DEADLINE = 120.0  # seconds for a whole download: a server trickling bytes is cut off
PASTED = "pasted rows"  # the source named in every row and column error of a pasted campaign

_NOUNS = {
    "campaign": "campaign file",
    "glossary": "glossary",
    "image": "base image",
    "translations": "translations file",
    "looks": "looks file",
    None: "file",
}
_OCTET = ("application/octet-stream", "binary/octet-stream")  # S3's and drives' default
_ACCEPTED: dict[What | None, tuple[str, ...]] = {
    "campaign": (
        "text/csv",
        "text/plain",
        "text/tab-separated-values",
        "application/csv",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        *_OCTET,
    ),
    "image": ("image/png", "image/jpeg", "image/webp", *_OCTET),
}
_ACCEPTED["glossary"] = _ACCEPTED["campaign"]
_XLIFF = ("application/xliff+xml", "application/xml", "text/xml")
_ACCEPTED["translations"] = (*_ACCEPTED["campaign"], *_XLIFF)
_ACCEPTED["looks"] = ("text/plain", *_OCTET)
_ACCEPTED[None] = (*_ACCEPTED["campaign"], *_ACCEPTED["image"])
_SHEET_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")  # what the campaign reader takes
_TABLES = ("campaign", "glossary", "translations")  # inputs read as a sheet


@dataclass(frozen=True)
class Input:
    """An input's bytes and a name for it: a file name whose suffix says its format, used as the
    source in every message."""

    name: str
    data: bytes


#: hosts of the user's own network whose links may be fetched ("*": any); see the module's doc
Allowed = frozenset[str]


def campaign_input(campaign: str, rows: str = "", *, allow_private: Allowed = frozenset()) -> Input:
    """The campaign a request names: its file or link, else the rows pasted into the form."""
    if campaign.strip():
        return read_input(
            campaign.strip(),
            what="campaign",
            max_bytes=MAX_CAMPAIGN_BYTES,
            allow_private=allow_private,
        )
    return pasted_rows(rows)


def image_input(
    image: str,
    max_bytes: int,
    *,
    allow_private: Allowed = frozenset(),
    client: httpx.Client | None = None,
) -> Input:
    """The base image a request names, by path, ``s3://`` URI or link, within ``max_bytes``
    (a link fetched with ``client`` when given)."""
    location = image.strip()
    if client is not None and location.startswith(("https://", "http://")):
        return fetch(
            location, what="image", max_bytes=max_bytes, client=client, allow_private=allow_private
        )
    return read_input(location, what="image", max_bytes=max_bytes, allow_private=allow_private)


def pasted_rows(text: str) -> Input:
    """Rows pasted from Excel or Google Sheets (tab-separated) or CSV text, header first."""
    if not text.strip():
        raise CampaignError(
            f"{PASTED}: nothing was pasted; paste the header row and one row per variant"
        )
    data = text.strip("\r\n").encode("utf-8") + b"\n"
    if len(data) > MAX_CAMPAIGN_BYTES:
        raise CampaignError(
            f"{PASTED}: {len(data):,} bytes; the limit is {MAX_CAMPAIGN_BYTES:,} (give a link "
            "to the sheet instead)"
        )
    return Input(PASTED, data)


def read_input(
    location: str,
    *,
    what: What | None = None,
    max_bytes: int | None = None,
    allow_private: Allowed = frozenset(),
) -> Input:
    """The bytes of a local path, an ``s3://`` URI or an ``https://`` link; CampaignError (or
    StorageError for S3) says what is wrong in one sentence."""
    if location.startswith(("https://", "http://")):
        return fetch(location, what=what, max_bytes=max_bytes, allow_private=allow_private)
    # A workbook's sheet may follow its name (sale.xlsx#Q4): the file is sale.xlsx, and the name
    # keeps the sheet for the campaign reader.
    file = split_sheet(location)[0] if what == "campaign" else location
    if location.startswith("s3://"):
        from transcreate.storage.s3 import S3Storage  # boto3 loads only for S3

        bucket = urlsplit(file).netloc
        return Input(location, S3Storage(f"s3://{bucket}").read_uri(file, max_bytes=max_bytes))
    return Input(location, _read_local(file, what, max_bytes))


def _read_local(location: str, what: What | None, max_bytes: int | None) -> bytes:
    noun = _NOUNS[what]
    path = Path(location).expanduser()
    where = f"looked for {path.absolute()}"
    if not path.is_absolute():
        where += f" (a relative path is read from the worker's working folder, {Path.cwd()})"
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CampaignError(f"{location}: is a folder, not a {noun}; {where}")
        if max_bytes is not None and size > max_bytes:
            raise CampaignError(
                f"{location}: the {noun} is {size:,} bytes; the limit is {max_bytes:,}"
                + (
                    " (raise it with --max-image-mb, or max_image_mb in the flow)"
                    if what == "image"
                    else ""
                )
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{location}: no such {noun}; {where}") from None
    except OSError as error:
        raise CampaignError(f"{location}: cannot read the {noun} ({error.strerror})") from None


def fetch(
    url: str,
    *,
    what: What | None = None,
    max_bytes: int | None = None,
    client: httpx.Client | None = None,
    allow_private: Allowed = frozenset(),
) -> Input:
    """Download a link, following up to five redirects, each one checked like the first."""
    limit = max_bytes if max_bytes is not None else MAX_CAMPAIGN_BYTES
    owned = client is None
    if client is None:
        client = guarded_client(allow_private, DEADLINE, timeout=TIMEOUT, follow_redirects=False)
    deadline = time.monotonic() + DEADLINE
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            _check_link(url, current, allow_private)
            with client.stream("GET", current, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    current = str(response.url.join(response.headers["location"]))
                    continue
                return _receive(url, response, what, limit, deadline)
        raise CampaignError(f"{url}: more than {MAX_REDIRECTS} redirects; use the final link")
    except httpx.TimeoutException:
        raise CampaignError(f"{url}: the server did not answer in time; try again later") from None
    except httpx.HTTPError as error:
        raise CampaignError(f"{url}: cannot download ({error}); check the link") from None
    finally:
        if owned:
            client.close()


def _check_link(url: str, current: str, allowed: Allowed) -> None:
    """The address rule, on the first hop and on every redirect."""
    parts = httpx.URL(current)
    opted_in = "*" in allowed or parts.host in allowed
    hop = "" if current == url else f" (redirected to {current})"
    if parts.scheme != "https" and not (parts.scheme == "http" and opted_in):
        raise CampaignError(f"{url}{hop}: only https:// links are fetched; use the https link")
    if not opted_in:
        _refuse_private(url, hop, parts)


def _refuse_private(url: str, hop: str, parts: httpx.URL) -> None:
    try:
        private = private_address(parts.host)
    except UnresolvedHost:
        raise CampaignError(
            f"{url}{hop}: cannot find the host {parts.host!r}; check the link"
        ) from None
    if private:
        raise CampaignError(
            f"{url}{hop}: the link leads to a private address ({parts.host}); only public links "
            f"are fetched (set {ALLOW_PRIVATE_VARIABLE}={parts.host} to allow a host of your own "
            "network)"
        )


def _receive(
    url: str, response: httpx.Response, what: What | None, limit: int, deadline: float
) -> Input:
    noun = _NOUNS[what]
    status = response.status_code
    if status == 404 or status == 410:
        raise CampaignError(f"{url}: not found (HTTP {status}); check the link")
    if status in (401, 403):
        raise CampaignError(
            f"{url}: access refused (HTTP {status}); the link may have expired, or the file is "
            "not shared with anyone who has the link"
        )
    if not response.is_success:
        raise CampaignError(
            f"{url}: the server answered HTTP {status}; try again or check the link"
        )
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "text/html":
        raise CampaignError(
            f"{url}: this is a web page, not the {noun}; use the file's direct download link "
            "(for a Google Sheet: File → Share → Publish to web → CSV)"
        )
    if content_type and content_type not in _ACCEPTED[what]:
        expected = "an image (PNG, JPEG or WebP)" if what == "image" else f"a {noun}"
        raise CampaignError(f"{url}: the server sent {content_type}, not {expected}")
    declared = int(response.headers.get("content-length") or 0)
    if declared > limit:
        raise CampaignError(f"{url}: the {noun} is {declared:,} bytes; the limit is {limit:,}")
    chunks, received = [], 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > limit:
            raise CampaignError(f"{url}: the {noun} is over {limit:,} bytes, the limit")
        if time.monotonic() > deadline:
            raise CampaignError(f"{url}: the download took over {DEADLINE:.0f} s; try again")
        chunks.append(chunk)
    data = b"".join(chunks)
    return Input(_file_name(response, content_type, data, what), data)


def _file_name(response: httpx.Response, content_type: str, data: bytes, what: What | None) -> str:
    """The name the server gives the file (Content-Disposition), else the link's last segment;
    for a sheet, with the suffix its reader needs (an export link often has none)."""
    header = email.message.Message()
    header["content-disposition"] = response.headers.get("content-disposition", "")
    given = header.get_filename() or unquote(PurePosixPath(response.url.path).name)
    name = PurePosixPath(given.replace("\\", "/")).name or "download"
    if what not in _TABLES or name.lower().endswith((*_SHEET_SUFFIXES, ".xlf", ".xliff")):
        return name
    if content_type in _XLIFF:
        return f"{name}.xlf"
    spreadsheet = content_type.endswith("sheet") or data.startswith(b"PK\x03\x04")
    return f"{name}.xlsx" if spreadsheet else f"{name}.csv"
