"""What every image-edit model backend shares, whatever its wire protocol.

A backend module implements only `ModelAPI.edit_image` (one request → the result image's bytes) for
its provider. `ModelEditor` wraps it into an editor: prepares the base image once (scaled to the
long side the model wants, re-encoded, size-checked), bounds concurrent calls to the endpoint,
caches results so a call is not paid for twice, and returns PNG bytes at the base image's own
size (the model's canvas mapped back, so `model+overlay` sets the copy at full resolution).
Errors are split into retryable (connection errors, timeouts, 408/409/429, 5xx) and permanent
(other 4xx: bad request, auth, content policy) so the pipeline retries only what can succeed.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.utils
import hashlib
import io
import ipaddress
import json
import logging
import queue
import re
import socket
import struct
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

import httpx
from PIL import Image, ImageOps

from transcreate.editors import Edited
from transcreate.errors import EditError, PermanentEditError, RetryableEditError
from transcreate.images import decode, encode_png
from transcreate.jobs import EditJob
from transcreate.settings import ModelSettings

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})  # and every 5xx
MAX_RESULT_PIXELS = 40_000_000  # a result larger than this is refused before it is decoded
MAX_RETRY_AFTER = 300.0  # seconds: a server asking for longer is treated as down, not waited on


@dataclass(frozen=True)
class PreparedImage:
    """The base image as it is sent to a model: scaled, re-encoded, within the upload limit."""

    data: bytes
    media_type: str  # image/png or image/jpeg
    sha256: str
    width: int
    height: int
    url: str | None = None  # a link to these same bytes a provider may fetch instead of an upload

    @property
    def extension(self) -> str:
        return "png" if self.media_type == "image/png" else "jpg"

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


class ModelAPI(Protocol):
    """One provider's wire protocol."""

    #: provider/model, e.g. "dashscope/qwen-image-edit-plus", refined by the provider with what
    #: it sends beyond the settings; `model_identity` adds the endpoint and every setting.
    identity: str

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        """Send one edit; return the result image's bytes (any common format)."""
        ...


def prepare_image(data: bytes, max_side: int, max_bytes: int) -> PreparedImage:
    """Scale the long side down to ``max_side``, re-encode (PNG, or JPEG when PNG is too big).

    An upright RGB PNG or JPEG already within both limits is sent as it is: re-encoding it would
    only cost time, and its bytes (and so a link to the original) stay valid.
    """
    as_is = _acceptable_as_is(data, max_side, max_bytes)
    if as_is is not None:
        return as_is
    image = decode(data)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    encoded, media_type = encode_png(image), "image/png"
    if len(encoded) > max_bytes:
        for quality in (92, 85, 75):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            encoded, media_type = buffer.getvalue(), "image/jpeg"
            if len(encoded) <= max_bytes:
                break
    if len(encoded) > max_bytes:
        raise PermanentEditError(
            f"the base image is {len(encoded):,} bytes after scaling to {max_side}px and "
            f"re-encoding; the upload limit is {max_bytes:,}"
        )
    return PreparedImage(
        encoded, media_type, hashlib.sha256(encoded).hexdigest(), image.width, image.height
    )


def _acceptable_as_is(data: bytes, max_side: int, max_bytes: int) -> PreparedImage | None:
    if len(data) > max_bytes:
        return None
    with Image.open(io.BytesIO(data)) as image:
        upright = _orientation(data) == 1  # no EXIF rotation to apply
        if image.format not in ("PNG", "JPEG") or image.mode != "RGB" or not upright:
            return None
        if max(image.size) > max_side:
            return None
        media_type = "image/png" if image.format == "PNG" else "image/jpeg"
        width, height = image.size
    return PreparedImage(data, media_type, hashlib.sha256(data).hexdigest(), width, height)


def new_client(settings: ModelSettings, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """A pooled client for one endpoint, with explicit timeouts and the bearer key."""
    auth = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    return httpx.Client(
        base_url=settings.base_url.rstrip("/") + "/",
        headers={**auth, **(headers or {})},
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        # A transport given to httpx turns its reading of the environment's proxies off: the
        # root read them (`ModelSettings.proxy`), and every pool goes through the one named.
        transport=SpreadTransport(settings.max_concurrency or DEFAULT_POOLS, proxy=settings.proxy),
        follow_redirects=False,
    )


DEFAULT_POOLS = 8  # connection pools when nothing bounds the calls in flight


class SpreadTransport(httpx.BaseTransport):
    """The client's connections as many small pools, one lent to each request until its
    response is closed.

    httpcore's pool checks every connection it holds, under one lock, at every request and at
    every response it closes (``ConnectionPool._assign_requests_to_connections``), and checking
    an idle connection is a ``poll`` system call: at 32 calls in flight that was ~32 system calls
    per edit, each a turn of the GIL among the edit threads. A pool of two connections (the
    endpoint, and a result link's host) keeps each check to one or two."""

    def __init__(self, pools: int, connections: int = 2, proxy: str | None = None):
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        verify = httpx.create_ssl_context()  # one for all pools: loading CAs takes ~20 ms
        self._pools = [
            httpx.HTTPTransport(limits=limits, verify=verify, proxy=proxy)
            for _ in range(max(1, pools))
        ]
        self._idle: queue.SimpleQueue[httpx.HTTPTransport] = queue.SimpleQueue()
        for pool in self._pools:
            self._idle.put(pool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        waiting = request.extensions.get("timeout", {}).get("pool")
        try:
            pool = self._idle.get(timeout=waiting)
        except queue.Empty:
            raise httpx.PoolTimeout("no connection became free in time", request=request) from None
        try:
            response = pool.handle_request(request)
        except BaseException:
            self._idle.put(pool)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_LentStream(response.stream, lambda: self._idle.put(pool)),
            extensions=response.extensions,
        )

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


class _LentStream(httpx.SyncByteStream):
    """A response body that gives its pool back when it is closed (once)."""

    def __init__(self, stream: httpx.SyncByteStream, give_back: Callable[[], None]):
        self._stream, self._give_back = stream, give_back
        self._lent = True

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            if self._lent:
                self._lent = False
                self._give_back()


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


@contextlib.contextmanager
def transport_errors(provider: str, redact: Redactor | None = None) -> Iterator[None]:
    """Connection failures and timeouts become RetryableEditError, naming the provider."""
    clean = redact or Redactor()
    try:
        yield
    except httpx.TimeoutException as error:
        raise RetryableEditError(f"{provider}: timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise RetryableEditError(f"{provider}: connection failed ({clean(str(error))})") from None


def check_response(
    response: httpx.Response,
    provider: str,
    detail: Callable[[httpx.Response], str],
    redact: Redactor | None = None,
) -> None:
    """Raise the right EditError for a failed response; ``detail`` extracts the provider's
    own error message from its error body, which ``redact`` cleans of secrets."""
    if response.is_success:
        return
    try:
        message = detail(response)
    except Exception:  # an error body that is not the provider's usual shape
        message = response.text[:300]
    status = response.status_code
    text = f"{provider}: HTTP {status}: {(redact or Redactor())(message)}"
    if status in RETRYABLE_STATUS or status >= 500:
        raise RetryableEditError(text, retry_after=parse_retry_after(response.headers))
    raise PermanentEditError(text)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def post_form(
    client: httpx.Client, url: str, *, data: Mapping[str, str], files: Mapping[str, Any]
) -> httpx.Response:
    """POST a multipart form in one piece. httpx streams a form part by part — a system call
    for every boundary, header and value, 17 for one edit, each a turn of the GIL among the edit
    threads; a model request (a prepared image and a prompt) is small enough to send whole."""
    request = client.build_request("POST", url, data=data, files=files)
    request.read()  # the body joined into one buffer, sent with one write
    return client.send(request)


def download_image(
    client: httpx.Client,
    url: str,
    *,
    provider: str,
    max_bytes: int,
    redact: Redactor | None = None,
) -> bytes:
    """Fetch a result URL with a size cap and a content-type check (streamed, never unbounded).

    A failed download is retryable where the link may still work (connection errors, 5xx,
    429): the edit it belongs to is paid for already, so callers fetch the same link again
    rather than edit again (see `CallJournal`)."""
    clean = redact or Redactor()
    if not url.startswith(("https://", "http://")):
        raise PermanentEditError(f"{provider}: result is not an http(s) URL: {clean(url[:80])!r}")
    _refuse_private_hosts(url, client, provider)
    # Result URLs are signed links, often on another host: the API key never goes with them.
    # The endpoint's client still carries the request, for its pool, timeouts and transport.
    request = client.build_request("GET", url)
    request.headers.pop("Authorization", None)
    with transport_errors(provider, clean):
        response = client.send(request, stream=True, follow_redirects=True)
    with transport_errors(provider, clean), contextlib.closing(response):
        if response.status_code == 404 or response.status_code == 403:
            raise PermanentEditError(
                f"{provider}: result image not found (HTTP {response.status_code}); "
                "the link may have expired"
            )
        if not response.is_success:
            check_response(response, provider, lambda r: "result download failed", clean)
        content_type = response.headers.get("content-type", "")
        if content_type and not content_type.startswith(("image/", "application/octet-stream")):
            raise PermanentEditError(
                f"{provider}: result is {clean(content_type[:80])!r}, not an image"
            )
        declared = int(response.headers.get("content-length") or 0)
        if declared > max_bytes:
            raise PermanentEditError(
                f"{provider}: result is {declared:,} bytes; the limit is {max_bytes:,}"
            )
        chunks, received = [], 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > max_bytes:
                raise PermanentEditError(f"{provider}: result exceeds {max_bytes:,} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def _refuse_private_hosts(url: str, client: httpx.Client, provider: str) -> None:
    """A result link may point back at the endpoint's own host (self-hosted servers do), but
    never at another private, loopback or link-local address: a compromised or misconfigured
    model server must not make us fetch from inside our network (SSRF)."""
    host = httpx.URL(url).host
    if host == client.base_url.host:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        raise RetryableEditError(f"{provider}: cannot resolve the result host {host!r}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            raise PermanentEditError(
                f"{provider}: the result link points at a private address ({host}); refused"
            )


def decode_base64_image(text: str, *, provider: str, max_bytes: int) -> bytes:
    """Bytes of a base64 image (plain or a data: URI), within the size limit."""
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    if len(payload) * 3 // 4 > max_bytes:
        raise PermanentEditError(f"{provider}: result exceeds {max_bytes:,} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        raise PermanentEditError(f"{provider}: result is not valid base64 image data") from None


def result_png(data: bytes, provider: str) -> bytes:
    """Check that a model's result is a real image and return it as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_RESULT_PIXELS:
                raise PermanentEditError(
                    f"{provider}: the result is {image.width}×{image.height}, too large to decode"
                )
            if image.format == "PNG" and image.mode in ("RGB", "RGBA"):
                image.verify()  # chunk checksums, without decoding: a PNG result is kept as is
                return data
            image.load()
            return encode_png(image.convert("RGB"))
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError):
        raise PermanentEditError(
            f"{provider}: the model returned data that is not an image"
        ) from None


# Models answer on their own canvas: Qwen-Image-Edit makes about 1024×1024 pixels in the input's
# aspect, "close to" it rather than equal (Model Studio's API reference, "output image"), so a
# 1080×1350 creative comes back 819×1024 or 912×1144. Within this relative aspect difference the
# canvas is the whole creative, only rounded: it is scaled back. Beyond it the model chose another
# frame (a square, say), which is cropped around its centre to the creative's aspect, never
# stretched.
SAME_ASPECT = 0.02


def fit_to_base(result: bytes, size: tuple[int, int]) -> bytes:
    """A model's PNG result brought back to the base creative's size and aspect (LANCZOS)."""
    with Image.open(io.BytesIO(result)) as image:
        if image.size == size:
            return result
        width, height = size
        aspect, base_aspect = image.width / image.height, width / height
        if abs(aspect / base_aspect - 1) <= SAME_ASPECT:
            fitted = image.resize(size, Image.Resampling.LANCZOS)
        else:
            fitted = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
        return encode_png(fitted)


@lru_cache(maxsize=8)
def upright_size(data: bytes) -> tuple[int, int]:
    """The size of an image as it is shown (EXIF rotation applied)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    if _orientation(data) in (5, 6, 7, 8):  # turned a quarter: sides swap
        return height, width
    return width, height


@lru_cache(maxsize=8)
def _orientation(data: bytes) -> int:
    """An image's EXIF orientation (1: upright), once per image, not per question."""
    with Image.open(io.BytesIO(data)) as image:
        # A PNG may keep its EXIF after the image data, and Pillow decodes the whole image to
        # look for it (18 ms for a 1024² creative, on a run's first job): walk the chunks.
        found = _png_exif(data) if image.format == "PNG" and "exif" not in image.info else None
        if found is None:
            exif = image.getexif()
        else:
            exif = Image.Exif()
            exif.load(found)
        orientation = exif.get(0x0112, 1)
    return orientation if isinstance(orientation, int) else 1


_RAW_PROFILE = b"Raw profile type exif\0"  # ImageMagick's text chunk, which Pillow reads too


def _png_exif(png: bytes) -> bytes | None:
    """A PNG's EXIF found by the chunks' lengths alone: its eXIf chunk's data, or b"" when it
    has none; None when it keeps its EXIF in a text chunk (left to Pillow)."""
    at = 8  # after the signature
    while at + 8 <= len(png):
        length, kind = struct.unpack_from(">I4s", png, at)
        if kind == b"eXIf":
            return png[at + 8 : at + 8 + length]
        if kind in (b"tEXt", b"zTXt", b"iTXt") and png.startswith(_RAW_PROFILE, at + 8):
            return None
        if kind == b"IEND":
            break
        at += 12 + length  # length, type, data, CRC
    return b""


class ResultCache:
    """Model results on disk by (prepared image, instruction, editor identity — endpoint, model
    and options included): a repeat within the TTL is not paid for again, across runs and
    campaigns. Concurrent identical calls wait for the first."""

    def __init__(self, folder: Path, ttl: float):
        self.folder = folder
        self.ttl = ttl
        # A lock per key while someone holds it, gone after: a long-lived worker does not keep one
        # for every edit it ever made.
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._guard = threading.Lock()

    @staticmethod
    def key(image: PreparedImage, instruction: str, identity: str) -> str:
        text = "\n".join([image.sha256, identity, instruction])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> bytes | None:
        path = self.folder / key[:2] / f"{key}.png"
        try:
            if time.time() - path.stat().st_mtime > self.ttl:
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        path = self.folder / key[:2] / f"{key}.png"
        temporary = path.with_suffix(f".{threading.get_ident()}.part")
        try:
            temporary.write_bytes(data)
        except FileNotFoundError:  # the first result in its folder (not an mkdir per result)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
        temporary.replace(path)


Gate = Callable[[], contextlib.AbstractContextManager[object]]

# Providers whose API key names the thing that edits, not only who pays: a Dify key belongs to one
# app (one workflow), so two keys on one Dify host are two different editors. A DashScope or
# OpenAI key names an account; the model named in the settings decides the result.
APP_KEYED_PROVIDERS = frozenset({"dify"})
# How a model's result becomes the job's output (see `fit_to_base`); a change here re-renders.
RESULT_FORM = "png at the base's size, lanczos"


def model_identity(api_identity: str, settings: ModelSettings) -> str:
    """The editor's identity: ``<provider>/<model>#<digest>``, the digest over everything that
    decides a result: the endpoint's base URL, the model, every provider option, how the input
    is prepared and the output formed, and for an app-keyed provider (Dify) the app behind the
    key — as a SHA-256 of the key, so the key itself is never stored or shown.

    It is part of every job key (so of the output's storage key) and of the result cache key: a
    fake or another region never serves its results as this endpoint's. Stable across runs and
    processes while nothing changes.
    """
    app = ""
    if settings.provider in APP_KEYED_PROVIDERS:
        app = hashlib.sha256(settings.api_key.encode("utf-8")).hexdigest()
    determinants = {
        "api": api_identity,
        "provider": settings.provider,
        "endpoint": settings.base_url.rstrip("/"),
        "model": settings.model,
        "options": dict(settings.options),
        "app": app,
        "input": [settings.max_side, settings.max_upload_bytes],
        "result": RESULT_FORM,
    }
    canonical = json.dumps(determinants, sort_keys=True, ensure_ascii=False, default=str)
    return f"{api_identity}#{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:12]}"


class ModelEditor:
    """An editor that asks an image-edit model, following the instruction (mode ``model``).

    Built once per run by `transcreate.wiring`, with everything it needs: ``gate`` takes a slot of
    a cross-process limit (a Prefect global concurrency limit) around each call, and
    ``input_links`` maps the SHA-256 of an input image to a link the provider may fetch it from
    (a presigned link to the creative in object storage) instead of an upload per call, and
    ``product_mask`` (image bytes, white or opaque where the product is) frames the base in an ad
    size around the product the user drew rather than the one saliency finds.
    """

    def __init__(
        self,
        api: ModelAPI,
        settings: ModelSettings,
        *,
        gate: Gate | None = None,
        input_links: Mapping[str, str] | None = None,
        product_mask: bytes | None = None,
    ):
        self.api = api
        self.settings = settings
        # What decides a model's answer (the result cache's key) and, with the mask that frames
        # its input in ad sizes, what decides an output (the job key): a new mask makes the
        # outputs again, but a call whose input it did not change is not paid for again.
        self.model_identity = model_identity(api.identity, settings)
        self.identity = self.model_identity
        if product_mask is not None:
            self.identity += "+mask-" + hashlib.sha256(product_mask).hexdigest()[:12]
        self._mask = product_mask
        slots = settings.max_concurrency
        self._slots: contextlib.AbstractContextManager[Any] = (
            threading.BoundedSemaphore(slots) if slots else contextlib.nullcontext()
        )
        self._cache = (
            ResultCache(settings.cache_dir, settings.cache_ttl) if settings.cache_dir else None
        )
        self.calls = 0  # model calls actually made by this editor (for summaries and benchmarks)
        self._links = dict(input_links or {})
        self.gate = gate
        self._count = threading.Lock()

    def edit(self, job: EditJob, image: bytes) -> Edited:
        """The model's edit of ``image``, at the size of ``image`` (see `fit_to_base`); for a job
        in an ad size, of the base reframed to that size first (`reframed_base`), so that the
        model draws the copy in the frame it will be seen in."""
        if job.size is None:
            return Edited(fit_to_base(self._result(job, image), upright_size(image)))
        from transcreate.compose.reframe import (
            reframed_base,  # numpy and the layout load only for sizes
        )

        frame, reframe = reframed_base(image, job.size, job.position, self._mask)
        edited = fit_to_base(self._result(job, encode_png(frame)), frame.size)
        layout = {"reframe": reframe}  # kept in the PNG too, as the built-in editor keeps its own
        return Edited(with_layout_record(edited, layout), layout, frame=frame)

    def _result(self, job: EditJob, image: bytes) -> bytes:
        """The model's own result (its canvas), from the cache or from a call."""
        prepared = self._prepare(image)
        if self._cache is None:
            return self._call(prepared, job.instruction)
        key = ResultCache.key(prepared, job.instruction, self.model_identity)
        with self._cache.lock(key):
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            result = self._call(prepared, job.instruction)
            self._cache.put(key, result)
            return result

    def _call(self, prepared: PreparedImage, instruction: str) -> bytes:
        with self._slots, self.gate() if self.gate else contextlib.nullcontext():
            with self._count:
                self.calls += 1
            raw = self.api.edit_image(prepared, instruction)
        return result_png(raw, self.settings.provider)

    def _prepare(self, image: bytes) -> PreparedImage:
        prepared = _prepared(image, self.settings.max_side, self.settings.max_upload_bytes)
        link = self._links.get(prepared.sha256)  # only when the prepared bytes are the original
        return replace(prepared, url=link) if link else prepared


def with_layout_record(png: bytes, record: Mapping[str, Any]) -> bytes:
    """``png`` with ``record`` in the layout chunk the built-in editor writes (an iTXt chunk
    after the header), its image data untouched: no re-encoding of a model's result."""
    from transcreate.compose.record import CHUNK

    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    data = CHUNK.encode("latin-1") + b"\0\0\0\0\0" + text  # no compression, no language
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + data))
    header = 8 + 25  # the signature, then IHDR (always first, always 13 bytes of data)
    return png[:header] + chunk + png[header:]


@lru_cache(maxsize=8)
def _prepared(image: bytes, max_side: int, max_bytes: int) -> PreparedImage:
    # The same base image is prepared once per process, not once per job.
    return prepare_image(image, max_side, max_bytes)
