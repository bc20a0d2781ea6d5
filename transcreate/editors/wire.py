"""The HTTP a provider's wire protocol is spoken over: a pooled client per endpoint (through the
environment's proxy), errors split into retryable (connection errors, timeouts, 408/409/425/429,
5xx) and permanent (other 4xx: bad request, auth, content policy), Retry-After, one-piece forms,
and result downloads with a size cap, a content-type check and the address rule on every hop.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import queue
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from transcreate.addresses import UnresolvedHost, guarded, private_address
from transcreate.editors.journal import CallJournal, journal_for
from transcreate.editors.redaction import Redactor, install_log_scrubbing
from transcreate.errors import MalformedAnswerError, PermanentEditError, RetryableEditError
from transcreate.settings import ModelSettings

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})  # and every 5xx
MAX_REDIRECTS = 5  # a result link may redirect (to a CDN) this often
MAX_RETRY_AFTER = 300.0  # seconds: a server asking for longer is treated as down, not waited on


def new_client(settings: ModelSettings, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """A pooled client for one endpoint, with explicit timeouts and the bearer key."""
    auth = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    return httpx.Client(
        base_url=settings.base_url.rstrip("/") + "/",
        headers={**auth, **(headers or {})},
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        # A transport given to httpx turns its reading of the environment's proxies off: the
        # root read them (`ModelSettings.proxy`), and every pool goes through the one named.
        transport=SpreadTransport(
            settings.max_concurrency or DEFAULT_POOLS,
            proxy=settings.proxy,
            # the endpoint may be on the user's own network; its result links may not be
            home=httpx.URL(settings.base_url).host,
            # a whole answer, headers to last byte: a server trickling a byte a second never
            # trips the per-read timeout; and no body may outgrow a result (base64: 4/3 of it)
            deadline=2 * settings.timeout + settings.connect_timeout,
            max_body=2 * settings.max_result_bytes,
            max_result=settings.max_result_bytes,
        ),
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

    def __init__(
        self,
        pools: int,
        connections: int = 2,
        proxy: str | None = None,
        *,
        deadline: float = 0.0,
        max_body: int = 0,
        max_result: int = 0,
        home: str | None = None,
    ):
        self._deadline, self._max_body = deadline, max_body  # 0: none
        self._refusal = (
            f"the answer is over {max_body:,} bytes, more than any result of at most "
            f"{max_result:,} bytes could need; refused before it is all read"
        )
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        verify = httpx.create_ssl_context()  # one for all pools: loading CAs takes ~20 ms
        self._pools = [
            guarded(
                httpx.HTTPTransport(limits=limits, verify=verify, proxy=proxy),
                [home] if home else (),
                deadline or None,
            )
            if home is not None
            else httpx.HTTPTransport(limits=limits, verify=verify, proxy=proxy)
            for _ in range(max(1, pools))
        ]
        self._idle: queue.SimpleQueue[httpx.HTTPTransport] = queue.SimpleQueue()
        for pool in self._pools:
            self._idle.put(pool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
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
        ends = started + self._deadline if self._deadline else None
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_LentStream(
                response.stream,
                lambda: self._idle.put(pool),
                ends,
                (self._max_body, self._refusal),
                request,
            ),
            extensions=response.extensions,
        )

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


class _LentStream(httpx.SyncByteStream):
    """A response body that gives its pool back when it is closed (once), read within a total
    deadline (``ends``, a monotonic time) and a byte limit (``max_body``; 0: none)."""

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        give_back: Callable[[], None],
        ends: float | None = None,
        limit: tuple[int, str] = (0, ""),
        request: httpx.Request | None = None,
    ):
        self._stream, self._give_back = stream, give_back
        self._ends, self._request = ends, request
        self._max_body, self._refusal = limit
        self._lent = True

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self._stream:
            received += len(chunk)
            if self._max_body and received > self._max_body:
                raise PermanentEditError(self._refusal)
            if self._ends is not None and time.monotonic() > self._ends:
                raise httpx.ReadTimeout(
                    "the answer took longer than its whole deadline", request=self._request
                )
            yield chunk

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            if self._lent:
                self._lent = False
                self._give_back()


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
        wait = parse_retry_after(response.headers)
        if wait is not None and wait > MAX_RETRY_AFTER:
            # Waiting that long would hold the run (and a slot) for nothing: the service is down
            # for now, and a run started again later finds every finished output stored.
            raise PermanentEditError(
                f"{text} (it asks to be retried in {wait:,.0f} s, longer than "
                f"{MAX_RETRY_AFTER:.0f} s: run the campaign again later)"
            )
        raise RetryableEditError(text, retry_after=wait)
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
    return max(0.0, seconds)


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
    """Fetch a result URL with a size cap and a content-type check (streamed, never unbounded),
    following up to five redirects, each hop held to the address rule (`refuse_private_host`).

    A failed download is retryable where the link may still work (connection errors, 5xx,
    429): the edit it belongs to is paid for already, so callers fetch the same link again
    rather than edit again (see `CallJournal`)."""
    clean = redact or Redactor()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if not current.startswith(("https://", "http://")):
            raise PermanentEditError(
                f"{provider}: result is not an http(s) URL: {clean(current[:80])!r}"
            )
        refuse_private_host(current, client, provider)
        # Result URLs are signed links, often on another host: the API key never goes with
        # them. The endpoint's client still carries the request, for its pool and timeouts.
        request = client.build_request("GET", current)
        request.headers.pop("Authorization", None)
        with transport_errors(provider, clean):
            response = client.send(request, stream=True, follow_redirects=False)
        if response.is_redirect and "location" in response.headers:
            response.close()
            current = str(response.url.join(response.headers["location"]))
            continue
        with transport_errors(provider, clean), contextlib.closing(response):
            return _received(response, provider, max_bytes, clean)
    raise PermanentEditError(
        f"{provider}: the result link redirects more than {MAX_REDIRECTS} times"
    )


def _received(response: httpx.Response, provider: str, max_bytes: int, clean: Redactor) -> bytes:
    if response.status_code == 404 or response.status_code == 403:
        raise PermanentEditError(
            f"{provider}: result image not found (HTTP {response.status_code}); "
            "the link may have expired"
        )
    if not response.is_success:
        check_response(response, provider, lambda r: "result download failed", clean)
    content_type = response.headers.get("content-type", "")
    if content_type and not content_type.startswith(("image/", "application/octet-stream")):
        # a page where the image should be (a proxy's, a storage error's): fetched again
        raise MalformedAnswerError(
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


def refuse_private_host(url: str, client: httpx.Client, provider: str) -> None:
    """A result link may point back at the endpoint's own host (self-hosted servers do), but
    never at another private, loopback or link-local address (`transcreate.addresses`)."""
    host = httpx.URL(url).host
    if host == client.base_url.host:
        return
    try:
        private = private_address(host)
    except UnresolvedHost:
        raise RetryableEditError(f"{provider}: cannot resolve the result host {host!r}") from None
    if private:
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


@dataclass(frozen=True)
class Wire:
    """What a provider's protocol is spoken through, set up once for an endpoint: its pooled
    client, the redactor of its secrets, and the journal of its paid calls. The root builds it
    (`Wire.to`) and hands it to the provider; a provider builds none of it."""

    client: httpx.Client
    redact: Redactor
    journal: CallJournal

    @classmethod
    def to(cls, settings: ModelSettings) -> Wire:
        install_log_scrubbing()  # before the first call: a server may echo the key in a header
        return cls(new_client(settings), Redactor([settings.api_key]), journal_for(settings))
