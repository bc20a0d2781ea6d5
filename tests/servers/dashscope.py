"""A fake Model Studio (DashScope) endpoint: Qwen-Image-Edit's native multimodal-generation API.

`POST /api/v1/services/aigc/multimodal-generation/generation`, validated as the service documents
it: the bearer key, a known model, one user message holding 1-3 images and one text, each image a
``data:`` URI or an http(s) URL that decodes to an image, and typed parameters, each only for the
model family that documents it (model table and parameters of
https://www.alibabacloud.com/help/en/model-studio/qwen-image-edit-api: qwen-image-edit makes one
image and takes no size or prompt_extend; the -plus/-max series take n 1-6, size, prompt_extend).
Sides of 384-3072 px are the guide's recommendation ("for best quality"), not a refusal. The
endpoint is synchronous only: ``X-DashScope-Async: enable`` is refused with the error the error-code
page lists (403 AccessDenied "current user api does not support asynchronous calls",
https://www.alibabacloud.com/help/en/model-studio/error-code).
The edit is deterministic (the input with a band coloured by the instruction) and is served at
`/results/<id>.png`, as the real service serves a signed OSS link. Errors are
``{"request_id", "code", "message"}``. `FakeServer.fault` scripts the shared faults; the reply
helpers below script the service's own: ``server.faults.append(Fault(refusal(), GENERATION))``.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import uuid
from dataclasses import replace
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from tests.servers.base import OVERSIZED, TIMEOUT, FakeServer, Fault, Reply, Request, edited

GENERATION = "/api/v1/services/aigc/multimodal-generation/generation"
MODELS = frozenset(
    {
        "qwen-image-edit",
        "qwen-image-edit-plus",
        "qwen-image-edit-plus-2025-10-30",
        "qwen-image-edit-plus-2025-12-15",
        "qwen-image-edit-max",
        "qwen-image-edit-max-2026-01-16",
    }
)
FIRST_FAMILY = frozenset({"qwen-image-edit"})  # one image, no size, no prompt_extend
# name: (type, check) for the parameters the service documents for these models
PARAMETERS: dict[str, tuple[type, Any]] = {
    "n": (int, lambda value: 1 <= value <= 6),
    "negative_prompt": (str, lambda value: len(value) <= 500),
    "prompt_extend": (bool, lambda value: True),
    "seed": (int, lambda value: 0 <= value <= 2147483647),
    "size": (str, lambda value: _size(value) is not None),
    "watermark": (bool, lambda value: True),
}


def error(status: int, code: str, message: str, **headers: str) -> Reply:
    document = {"request_id": str(uuid.uuid4()), "code": code, "message": message}
    return Reply.json(document, status, **headers)


def invalid(message: str) -> Reply:
    return error(400, "InvalidParameter", message)


def throttled(retry_after: float = 1) -> Reply:
    message = "Requests rate limit exceeded, please try again later."
    return error(429, "Throttling.RateQuota", message, **{"Retry-After": f"{retry_after:g}"})


def server_error() -> Reply:
    return error(500, "InternalError", "An internal error has occured, please try again later.")


def refusal() -> Reply:
    return error(400, "DataInspectionFailed", "Input data may contain inappropriate content.")


def slow(seconds: float) -> Reply:
    """An answer that comes too late for a client with a shorter timeout."""
    return Reply(delay=seconds)


def not_an_image() -> Reply:
    return Reply(200, b"<html><body>Access denied</body></html>", {"Content-Type": "text/html"})


def oversized(size: int) -> Reply:
    return Reply(200, b"\x89PNG" + b"\0" * (size - 4), {"Content-Type": "image/png"})


class FakeDashScope(FakeServer):
    env_prefix, api_path = "DASHSCOPE", "/api/v1"

    def __init__(self, api_key: str = "sk-test-not-a-real-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.results: dict[str, bytes] = {}
        self.edits = 0  # generations actually made: the paid calls
        self.drifts = 0  # the next this many edits also repaint the product (`edited`'s drift)
        self.echo = False  # answer with the last image as sent: costs the server nothing (bench)
        # seconds an edit takes (its answer leaves this long after the request came), while its
        # result link answers at once, as the service's object storage does (`latency` delays both)
        self.inference = 0.0
        self._ids = itertools.count(1)

    @property
    def paid(self) -> int:
        return self.edits

    def fault_for(self, kind: str) -> Fault:
        return {
            "throttled": Fault(throttled(retry_after=1), GENERATION),
            "server_error": Fault(server_error(), GENERATION),
            "timeout": Fault(slow(TIMEOUT), GENERATION),
            "timeout_after_edit": Fault(path=GENERATION, late=TIMEOUT),
            "dead_link": Fault(Reply(404, b"<Error><Code>NoSuchKey</Code></Error>"), "/results/"),
            "download_error": Fault(Reply(503, b"<Error>SlowDown</Error>"), "/results/"),
            "not_an_image": Fault(not_an_image(), "/results/"),
            "oversized": Fault(oversized(OVERSIZED), "/results/"),
        }[kind]

    def route(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/results/"):
            data = self.results.get(request.path.rsplit("/", 1)[-1])
            if data is None:
                missing = b"<Error><Code>NoSuchKey</Code></Error>"
                return Reply(404, missing, {"Content-Type": "application/xml"})
            return Reply(200, data, {"Content-Type": "image/png"})
        if request.method != "POST" or request.path != GENERATION:
            return error(404, "NotFound", f"Not found: {request.method} {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "InvalidApiKey", "Invalid API-key provided.")
        if request.headers.get("x-dashscope-async", "").lower() == "enable":
            return error(
                403, "AccessDenied", "current user api does not support asynchronous calls"
            )
        try:
            document = request.json()
        except (ValueError, UnicodeDecodeError):
            return invalid("The request body is not valid JSON.")
        if not isinstance(document, dict):
            return invalid("The request body must be a JSON object.")
        return self._generate(document)

    def _generate(self, document: dict[str, Any]) -> Reply:
        model = document.get("model")
        if not model:
            return error(400, "BadRequest.EmptyModel", 'Required parameter "model" missing.')
        if model not in MODELS:
            return error(404, "ModelNotFound", f"Model not exist: {model}")
        given = document.get("input")
        messages = given.get("messages") if isinstance(given, dict) else None
        if not isinstance(messages, list) or len(messages) != 1:
            return invalid("input.messages must hold exactly one message (single turn).")
        message = messages[0]
        if not isinstance(message, dict) or message.get("role") != "user":
            return invalid("The message role must be user.")
        content = message.get("content")
        if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
            return invalid("message.content must be a list of {image} and {text} objects.")
        texts = [item["text"] for item in content if "text" in item]
        images = [item["image"] for item in content if "image" in item]
        if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
            return invalid("message.content must hold exactly one non-empty text.")
        if not 1 <= len(images) <= 3:
            return invalid("message.content must hold 1 to 3 images.")
        parameters = document.get("parameters") or {}
        if not isinstance(parameters, dict):
            return invalid("parameters must be an object.")
        for name, value in parameters.items():
            if model in FIRST_FAMILY and name in ("size", "prompt_extend"):
                return invalid(f"parameters.{name} is not supported by {model}.")
            kind, check = PARAMETERS.get(name, (object, lambda value: True))
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                return invalid(f"parameters.{name} must be of type {kind.__name__}.")
            if not check(value):
                return invalid(f"parameters.{name} is out of range: {value!r}.")
        if self.echo and all(isinstance(image, str) for image in images):
            return self._answer(None, texts[0], parameters.get("n", 1), raw=_raw(images[-1]))
        pictures = []
        for index, reference in enumerate(images, start=1):
            picture = self._open(reference)
            if isinstance(picture, str):
                return invalid(f"image {index}: {picture}")
            pictures.append(picture)
        count = parameters.get("n", 1)
        if model in FIRST_FAMILY and count != 1:
            return invalid("qwen-image-edit makes one image per request: n must be 1.")
        return self._answer(pictures[-1], texts[0], count)

    def _open(self, reference: Any) -> Image.Image | str:
        """The decoded image, or what is wrong with it."""
        if not isinstance(reference, str):
            return "must be a string (a URL or a data URI)"
        if reference.startswith("data:"):
            header, _, payload = reference.partition(",")
            if not header.startswith("data:image/") or not header.endswith(";base64"):
                return "a data URI must look like data:image/png;base64,..."
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return "the base64 data is invalid"
        elif reference.startswith(("http://", "https://")):
            try:
                data = httpx.get(reference, timeout=5).raise_for_status().content
            except httpx.HTTPError:
                return "Unable to download the media resource."
        else:
            return "must be an http(s) URL or a data URI"
        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                picture = opened.copy()
        except (UnidentifiedImageError, OSError):
            return "The image format is not supported."
        return picture

    def _answer(
        self, picture: Image.Image | None, instruction: str, count: int, raw: bytes = b""
    ) -> Reply:
        with self._lock:
            drifting, self.drifts = self.drifts > 0, max(0, self.drifts - 1)
        result = raw or edited(picture, instruction, drift=drifting)  # type: ignore[arg-type]
        content = []
        with self._lock:
            self.edits += 1
            for _ in range(count):
                name = f"{next(self._ids)}.png"
                self.results[name] = result
                content.append({"image": f"{self.url}/results/{name}?Expires=1767225600"})
        document = {
            "output": {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ]
            },
            "usage": {
                "width": picture.width if picture else 0,
                "height": picture.height if picture else 0,
                "image_count": count,
            },
            "request_id": str(uuid.uuid4()),
        }
        return replace(Reply.json(document), delay=self.inference)


def _raw(reference: str) -> bytes:
    """The bytes of a data URI as sent (echo mode: no decoding, no checks)."""
    return base64.b64decode(reference.partition(",")[2])


def _size(value: str) -> tuple[int, int] | None:
    width, _, height = value.partition("*")
    if not (width.isdigit() and height.isdigit()):
        return None
    if not all(512 <= int(side) <= 2048 for side in (width, height)):
        return None
    return int(width), int(height)
