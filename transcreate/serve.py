"""Serve the output folder over HTTP, read-only, so every link a run shows opens in a browser.

Only GET and HEAD; only files inside the folder (``..``, its percent-encoded forms, absolute paths
and symlinks that lead out of it are refused); loopback unless told otherwise. Runs pointed at the
same folder with ``TRANSCREATE_OUTPUT_BASE_URL`` set to this address write links under it.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from transcreate.errors import StorageError

logger = logging.getLogger("transcreate.serve")

DEFAULT_PORT = 8765
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".txt": "text/plain; charset=utf-8",
}
# The gallery is a static page: its own styles, images from here or from https links, no scripts.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def confined_path(root: Path, request_path: str) -> Path | None:
    """The file a request path names inside ``root`` (resolved), or None when it would leave it."""
    path = unquote(urlsplit(request_path).path)
    parts = path.split("/")
    if not path.startswith("/") or "\\" in path or "\0" in path or ".." in parts:
        return None
    target = (root / path.lstrip("/")).resolve()  # symlinks followed: where the bytes really are
    return target if target == root or target.is_relative_to(root) else None


class OutputHandler(SimpleHTTPRequestHandler):
    """The standard library's file handler, held inside one folder."""

    root: Path  # set on the subclass `serve` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(self.root), **kwargs)

    def send_head(self) -> Any:
        if confined_path(self.root, self.path) is None:
            self.send_error(HTTPStatus.FORBIDDEN, "Outside the served folder")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        # Only reached after send_head's check; the root is a safe answer for anything else.
        return str(confined_path(self.root, path) or self.root)

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("Cache-Control", "no-cache")  # a re-run rewrites the manifest and page
        super().end_headers()

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        suffix = Path(path).suffix.lower()
        return (
            CONTENT_TYPES.get(suffix)
            or mimetypes.guess_type(str(path))[0]
            or ("application/octet-stream")
        )

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Any:
    """A server of ``folder`` on ``host:port`` (port 0: a free one), not yet serving. A folder
    that does not exist yet is made: the desk is often started before the first run fills it."""
    root = Path(folder).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise StorageError(f"{root}: is a file, not a folder; give the runs' output folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{root}: cannot make the folder to serve ({error.strerror})") from None
    handler = type("Handler", (OutputHandler,), {"root": root})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise StorageError(
            f"{host}:{port}: cannot serve there ({error.strerror}); choose another --port"
        ) from None
    server.daemon_threads = True
    return server


def base_url(server: Any) -> str:
    """The address links should start with, e.g. ``http://127.0.0.1:8765/``."""
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"
