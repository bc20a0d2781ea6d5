"""A small threaded HTTP server for fakes: real sockets on 127.0.0.1, scripted faults, call log.

A fake subclasses `FakeServer` and implements `route(request) -> Reply`. Tests script faults with
`server.fault(kind)` (the same kinds for every provider, in its own words: see `FAULT_KINDS`) or,
for a provider's own cases, `server.faults.append(Fault(...))`: the next matching requests get the
fault instead of the normal reply, in order. Every request is logged in `server.requests` (method,
path, headers, body). With ``echo_key`` on, every error reply repeats the key it was sent, raw and
encoded, as a careless proxy or a debug build of a server does: transcreate must never show it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

from PIL import Image, ImageDraw, ImageOps


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterator[bytes] | None = None  # streamed (e.g. server-sent events), then closed
    delay: float = 0.0  # seconds to wait before answering (timeouts)

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Reply:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return cls(status, body, {"Content-Type": "application/json", **headers})


@dataclass
class Fault:
    """Answer the next request whose path contains ``path`` with ``reply`` (``times`` times).

    With ``late`` > 0 the request is served as usual (the edit is made, and paid for) and its
    answer leaves ``late`` seconds later: a timeout after the work was done."""

    reply: Reply = field(default_factory=Reply)
    path: str = ""
    times: int = 1
    late: float = 0.0


#: What `FakeServer.fault` can do to the next calls, the same for every provider:
FAULT_KINDS = (
    "throttled",  # 429 with Retry-After: 1, on the edit
    "server_error",  # 500 on the edit, before any work
    "timeout",  # the edit answers after TIMEOUT seconds, before any work
    "timeout_after_edit",  # the edit is made (paid), its answer comes after TIMEOUT seconds
    "dead_link",  # the result link answers 404
    "download_error",  # the result link answers 503 (it works again afterwards)
    "not_an_image",  # the result is an HTML page
    "oversized",  # the result is OVERSIZED bytes
)
TIMEOUT = 2.5  # seconds: well past the 1 s client timeout the tests use
OVERSIZED = 5000  # bytes: more than the 1,000-byte result limit the tests use


# Where an instruction asks for its copy (the templates' English and Chinese position names), in
# eighths of the height from the top: a model draws the text where it is told, and so do the fakes.
_BANDS = (
    (("the top", "顶部", "左上角", "右上角"), 0),
    (("the middle", "the center", "正中间", "左侧居中", "右侧居中"), 3),
    (("the bottom", "底部", "左下角", "右下角"), 6),
)


def band_top(instruction: str) -> int:
    """Where the first place the instruction names is (the copy's: a logo's comes later)."""
    named = [
        (instruction.index(word), top)
        for words, top in _BANDS
        for word in words
        if word in instruction
    ]
    return min(named)[1] if named else 6


def edited(image: bytes | Image.Image, instruction: str, *, drift: bool = False) -> bytes:
    """Every fake model's edit: a band a quarter of the height tall where the instruction asks
    for its copy (across the bottom when it names no place), coloured by the instruction, as PNG.
    ``drift``: the model also repaints the middle of the picture, where a product stands (its
    colours inverted), as a real model sometimes redraws the product it was told to keep."""
    if isinstance(image, bytes):
        with Image.open(io.BytesIO(image)) as source:
            picture = source.convert("RGB")
    else:
        picture = image.convert("RGB")
    if drift:
        middle = (picture.width // 4, picture.height // 4, picture.width * 3 // 4)
        box = (*middle, picture.height * 3 // 4)
        picture.paste(ImageOps.invert(picture.crop(box)), box[:2])
    colour = tuple(hashlib.sha256(instruction.encode()).digest()[:3])
    top = band_top(instruction) * picture.height // 8
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, top, picture.width, top + picture.height // 4), fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is what the timeout tests do on purpose.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeServer:
    #: how transcreate finds this API: ``<env_prefix>_BASE_URL`` = url + api_path, and the key
    env_prefix = ""
    api_path = ""
    api_key = ""

    def __init__(self, latency: float = 0.0) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.echo_key = False  # error replies repeat the key they were sent (see module doc)
        self.latency = latency  # seconds added to every reply, like a model's inference time
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests served at once: checks concurrency limits
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # shutdown() is seen within 20 ms, not the default 0.5 s every teardown waited
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """The provider's variables that point transcreate at this fake."""
        return {
            f"{self.env_prefix}_BASE_URL": f"{self.url}{self.api_path}",
            f"{self.env_prefix}_API_KEY": self.api_key,
        }

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def route(self, request: Request) -> Reply:  # pragma: no cover - every fake overrides it
        raise NotImplementedError

    def fault(self, kind: str, times: int = 1) -> None:
        """Fail the next ``times`` calls that ``kind`` concerns (one of `FAULT_KINDS`)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        fault = self.fault_for(kind)
        fault.times = times
        with self._lock:
            self.faults.append(fault)

    def fault_for(self, kind: str) -> Fault:  # pragma: no cover - every fake overrides it
        """The provider's own form of a fault kind."""
        raise NotImplementedError

    @property
    def paid(self) -> int:  # pragma: no cover - every fake overrides it
        """Edits the provider made and would bill."""
        raise NotImplementedError

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def calls(self, path: str) -> int:
        """How many requests reached a path containing ``path``."""
        with self._lock:
            return sum(path in request.path for request in self.requests)

    def _next_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in request.path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _echo(self, request: Request, reply: Reply) -> Reply:
        """The reply with the presented key repeated in its message, raw and encoded."""
        sent = request.headers.get("authorization", "")
        token = sent.split(None, 1)[-1] if sent else ""
        if not token or "json" not in reply.headers.get("Content-Type", ""):
            return reply
        echo = (
            f" [debug: authorization={sent!r} key={token} url={quote(token, safe='')} "
            f"basic={base64.b64encode(f'user:{token}'.encode()).decode()}]"
        )
        document = json.loads(reply.body)
        holder = document["error"] if isinstance(document.get("error"), dict) else document
        holder["message"] = f"{holder.get('message', '')}{echo}"
        body = json.dumps(document).encode()
        return Reply(reply.status, body, {**reply.headers, "X-Debug-Key": token}, delay=reply.delay)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, the body
            # waits for the client's delayed ACK (40 ms) — a cost no real server adds.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                pass

            def _serve(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                with fake._lock:
                    fake.requests.append(request)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    fault = fake._next_fault(request)
                    if fault is None:
                        reply = fake.route(request)
                    elif fault.late:  # the work is done, the answer comes too late
                        reply = replace(fake.route(request), delay=fault.late)
                    else:
                        reply = fault.reply
                    if fake.echo_key and reply.status >= 400:
                        reply = fake._echo(request, reply)
                    # The reply leaves `latency` after the request arrived, as a model's would:
                    # the fake's own parsing is part of that time, not added to it.
                    wait = (reply.delay or fake.latency) - (time.monotonic() - arrived)
                    if wait > 0:
                        time.sleep(wait)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in reply.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
