"""A fake Dify workflow app: the Service API as Dify's API page and source describe it.

Routes: ``POST /v1/files/upload`` (multipart ``file`` + ``user`` → 201 and a file record),
``POST /v1/workflows/run`` (blocking JSON or server-sent events), ``GET /v1/workflows/run/<id>``
(the run's detail: WorkflowRunDetailApi in api/controllers/service_api/app/workflow.py — ``running``
until it ends, 404 ``not_found`` for an unknown id), and, at the root as Dify serves
them when FILES_URL is empty, signed result downloads ``GET /files/<id>/file-preview?timestamp=…
&nonce=…&sign=…``. Errors are ``{"code", "message", "status"}`` with Dify's codes and messages.

The app's variable names and output shape are attributes (``image_input``, ``instruction_input``,
``output_name``, ``output_style``). The "model" is deterministic: the uploaded image with a band
whose colour depends on the instruction. Tests script faults with `FakeServer.faults` (HTTP-level:
`rate_limited`, `server_error`, `slow`) and ``outcomes`` (how the next runs end: failed, stopped,
cut off, an error event), and read ``uploads`` and ``runs``.

Sources (langgenius/dify): web/app/components/develop/template/template_workflow.en.mdx,
api/controllers/service_api/{wraps.py,app/file.py,app/workflow.py,app/error.py},
api/libs/external_api.py, api/core/app/apps/base_app_generator.py, api/core/file/helpers.py,
api/controllers/files/image_preview.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import itertools
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default
from typing import Any
from urllib.parse import parse_qs, urlencode

from PIL import Image, UnidentifiedImageError

from tests.servers.base import OVERSIZED, TIMEOUT, FakeServer, Fault, Reply, Request, edited

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "svg")  # api/core/file/constants.py
SECRET = b"fake-dify-secret-key"
WORKFLOW_ID = "7c3e33d4-2a8b-4e5f-9b1a-d3c6e8f12345"
FILES_ACCESS_TIMEOUT = 300  # seconds a signed file URL stays valid (Dify's default)


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply.json({"code": code, "message": message, "status": status, **extra}, status)


def rate_limited(retry_after: str = "1") -> Fault:
    """The app's concurrent-request limit (controllers/web/error.py InvokeRateLimitError)."""
    reply = error(429, "rate_limit_error", "Too many requests. Please try again later.")
    reply.headers["Retry-After"] = retry_after
    return Fault(reply, "/workflows/run")


def server_error(times: int = 1) -> Fault:
    message = (
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."
    )
    return Fault(error(500, "internal_server_error", message), "/workflows/run", times)


def slow(seconds: float, times: int = 1) -> Fault:
    return Fault(Reply(delay=seconds), "/workflows/run", times)


@dataclass
class Outcome:
    """How one workflow run ends; ``status`` is succeeded, failed or stopped."""

    status: str = "succeeded"  # or failed, stopped, partial-succeeded (outputs and an error)
    error: str | None = None
    cut_off: bool = False  # the connection drops before the run finishes (the run goes on)
    stall: float = 0.0  # seconds the run takes after it starts (its stream is silent meanwhile)
    error_code: str | None = None  # an error raised mid-run (an ``error`` event when streaming)
    error_status: int = 400


def form_fields(request: Request) -> dict[str, tuple[str | None, str | None, bytes]]:
    """Multipart fields by name: (file name, content type, bytes)."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=default).parsebytes(head + request.body)
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            fields[name] = (part.get_filename(), part.get_content_type(), data)
    return fields


def signature(file_id: str, timestamp: str, nonce: str) -> str:
    message = f"file-preview|{file_id}|{timestamp}|{nonce}".encode()
    return base64.urlsafe_b64encode(hmac.new(SECRET, message, hashlib.sha256).digest()).decode()


def event(name: str, **fields: Any) -> bytes:
    return f"data: {json.dumps({'event': name, **fields})}\n\n".encode()


class FakeDify(FakeServer):
    env_prefix, api_path = "DIFY", "/v1"

    def __init__(self, api_key: str = "app-test-not-a-real-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.reset()

    def reset(self) -> None:
        """Defaults back, logs and scripts emptied: a module-wide server, fresh for each test."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
        self.image_input = "image"
        self.image_input_type = "file"  # or "file-list"
        self.instruction_input = "instruction"
        self.output_name = "edited_image"
        self.output_style = "file"  # file, files (array[file]), url (the seed's), base64
        self.max_upload_bytes = 10 * 1024 * 1024  # UPLOAD_IMAGE_FILE_SIZE_LIMIT: 10 MB
        self.outcomes: list[Outcome] = []
        self.uploads = 0  # files accepted by /files/upload
        self.runs = 0  # workflow runs started (requests that passed validation): the paid calls
        self.run_records: dict[str, tuple[float, dict[str, Any]]] = {}  # id → (ends at, data)
        self.files: dict[str, tuple[str, str, bytes]] = {}  # id → (user, mime type, bytes)
        self._ids = itertools.count(1)
        self._count = threading.Lock()

    @property
    def paid(self) -> int:
        return self.runs

    def fault(self, kind: str, times: int = 1) -> None:
        if kind == "timeout_after_edit":  # the stream starts, then stays silent past the timeout
            with self._count:
                self.outcomes.extend(Outcome(stall=TIMEOUT) for _ in range(times))
            return
        super().fault(kind, times)

    def fault_for(self, kind: str) -> Fault:
        preview = "/file-preview"
        return {
            "throttled": rate_limited(),
            "server_error": server_error(),
            "timeout": slow(TIMEOUT),
            "dead_link": Fault(error(404, "not_found", "File not found"), preview),
            "download_error": Fault(error(503, "service_unavailable", "Try again"), preview),
            "not_an_image": Fault(Reply(200, b"<html>", {"Content-Type": "image/png"}), preview),
            "oversized": Fault(
                Reply(200, b"\x89PNG" + b"\0" * (OVERSIZED - 4), {"Content-Type": "image/png"}),
                preview,
            ),
        }[kind]

    def route(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.endswith("/file-preview"):
            return self._preview(request)
        authorization = request.headers.get("authorization")
        if authorization is None or " " not in authorization:
            message = "Authorization header must be provided and start with 'Bearer'"
            return error(401, "unauthorized", message)
        scheme, token = authorization.split(None, 1)
        if scheme.lower() != "bearer":
            return error(401, "unauthorized", "Authorization scheme must be 'Bearer'")
        if token != self.api_key:
            return error(401, "unauthorized", "Access token is invalid")
        if (request.method, request.path) == ("POST", "/v1/files/upload"):
            return self._upload(request)
        if (request.method, request.path) == ("POST", "/v1/workflows/run"):
            return self._run(request)
        if request.method == "GET" and request.path.startswith("/v1/workflows/run/"):
            return self._detail(request.path.rsplit("/", 1)[-1])
        return error(404, "not_found", "The requested URL was not found on the server.")

    def _new_id(self) -> str:
        with self._count:
            return str(uuid.UUID(int=next(self._ids)))

    def _upload(self, request: Request) -> Reply:
        form = form_fields(request)
        if "file" not in form:
            return error(400, "no_file_uploaded", "Please upload your file.")
        name, mime_type, data = form["file"]
        extension = (name or "").rsplit(".", 1)[-1].lower()
        if extension not in IMAGE_EXTENSIONS or not _is_image(data):
            return error(415, "unsupported_file_type", "File type not allowed.")
        if len(data) > self.max_upload_bytes:
            message = f"File size exceeded. {len(data)} > {self.max_upload_bytes}"
            return error(413, "file_too_large", message)
        user = form.get("user", (None, None, b"DEFAULT-USER"))[2].decode()
        file_id = self._new_id()
        with self._count:
            self.files[file_id] = (user, mime_type or "application/octet-stream", data)
            self.uploads += 1
        record = {
            "id": file_id,
            "name": name,
            "size": len(data),
            "extension": extension,
            "mime_type": mime_type,
            "created_by": str(uuid.uuid5(uuid.NAMESPACE_URL, user)),
            "created_at": int(time.time()),
        }
        return Reply.json(record, 201)

    def _run(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            message = "Invalid JSON payload received or JSON payload is empty."
            return error(400, "invalid_param", message)
        if not body.get("user"):
            return error(400, "invalid_param", "Arg user must be provided.")
        inputs, mode = body.get("inputs"), body.get("response_mode")
        if not isinstance(inputs, dict):
            message = "Missing required parameter in the JSON body"
            return error(400, "invalid_param", message, params="inputs")
        if mode not in (None, "blocking", "streaming"):
            message = f"The value '{mode}' is not a valid choice for 'response_mode'."
            return error(400, "invalid_param", message, params="response_mode")
        problem, image = self._check_inputs(inputs, str(body["user"]))
        if problem:
            return error(400, "invalid_param", problem)
        with self._count:
            self.runs += 1
            outcome = self.outcomes.pop(0) if self.outcomes else Outcome()
        instruction = inputs[self.instruction_input]
        if mode == "streaming":
            return self._stream(outcome, image, instruction)
        run = self._register(outcome, image, instruction, self._new_id())
        if outcome.error_code:
            return error(outcome.error_status, outcome.error_code, outcome.error or "")
        document = {"workflow_run_id": run["id"], "task_id": self._new_id(), "data": run}
        if outcome.stall:
            return replace_delay(document, outcome.stall)
        if outcome.cut_off:  # a Content-Length that the body never reaches
            full = json.dumps(document).encode()
            headers = {"Content-Type": "application/json", "Content-Length": str(len(full))}
            return Reply(200, headers=headers, chunks=iter([full[: len(full) // 2]]))
        return Reply.json(document)

    def _check_inputs(self, inputs: dict[str, Any], user: str) -> tuple[str | None, bytes]:
        """Dify's input checks and messages (base_app_generator.py, file_factory)."""
        image = inputs.get(self.image_input)
        if image is None:
            return f"{self.image_input} is required in input form", b""
        if self.image_input_type == "file-list":
            if not isinstance(image, list) or not all(isinstance(i, dict) for i in image):
                return f"{self.image_input} in input form must be a list of files", b""
            image = image[0] if image else {}
        elif not isinstance(image, dict):
            return f"{self.image_input} in input form must be a file", b""
        stored = self.files.get(str(image.get("upload_file_id")))
        if image.get("transfer_method") != "local_file" or not stored or stored[0] != user:
            return "Invalid upload file", b""
        if image.get("type") != "image":
            return (
                "Detected file type does not match the specified type. Please verify the file.",
                b"",
            )
        instruction = inputs.get(self.instruction_input)
        if instruction is None:
            return f"{self.instruction_input} is required in input form", b""
        if not isinstance(instruction, str):
            message = f"(type 'paragraph') {self.instruction_input} in input form must be a string"
            return message, b""
        return None, stored[2]

    def _register(
        self, outcome: Outcome, image: bytes, instruction: str, run_id: str
    ) -> dict[str, Any]:
        """Make the edit (the model's time) and keep the run for its detail."""
        run = self._finish(outcome, edited(image, instruction), run_id)
        with self._count:
            self.run_records[run_id] = (time.monotonic() + outcome.stall, run)
        return run

    def _finish(self, outcome: Outcome, result: bytes, run_id: str) -> dict[str, Any]:
        """The run's ``data``: status, outputs (the edited image, shaped as configured)."""
        file_id = self._new_id()
        with self._count:
            self.files[file_id] = ("", "image/png", result)
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        query = urlencode(
            {"timestamp": timestamp, "nonce": nonce, "sign": signature(file_id, timestamp, nonce)}
        )
        path = f"/files/{file_id}/file-preview?{query}"  # relative: FILES_URL is empty
        file = {
            "dify_model_identity": "__dify__file__",
            "id": None,
            "tenant_id": "6ad1ab0a-73ff-4ac1-b9e4-cdb312f71f13",
            "type": "image",
            "transfer_method": "local_file",
            "remote_url": None,
            "related_id": file_id,
            "filename": f"{file_id}.png",
            "extension": ".png",
            "mime_type": "image/png",
            "size": len(result),
            "url": path,
        }
        shapes = {
            "file": file,
            "files": [file],
            "url": f"{self.url}{path}",
            "base64": base64.b64encode(result).decode(),
        }
        succeeded = outcome.status in ("succeeded", "partial-succeeded")
        outputs = {"text": "done", self.output_name: shapes[self.output_style]}
        if outcome.status == "partial-succeeded" and not outcome.error:
            outcome.error = "Node Upscale run failed: timeout; the fail branch was taken"
        return {
            "id": run_id,
            "workflow_id": WORKFLOW_ID,
            "status": outcome.status,
            "outputs": outputs if succeeded else {},
            "error": outcome.error if succeeded else (outcome.error or "Stopped by user."),
            "elapsed_time": 0.5,
            "total_tokens": 0,
            "total_steps": 3,
            "created_at": int(time.time()),
            "finished_at": int(time.time()),
            "files": [file] if succeeded and self.output_style in ("file", "files") else [],
        }

    def _stream(self, outcome: Outcome, image: bytes, instruction: str) -> Reply:
        """Events as Dify sends them: the run's id at once, the edit's result when it is made."""
        run_id = self._new_id()
        running = {"id": run_id, "workflow_id": WORKFLOW_ID, "status": "running", "outputs": {}}
        with self._count:
            self.run_records[run_id] = (math.inf, {**running, "error": None})

        def events() -> Iterator[bytes]:
            ids = {"task_id": self._new_id(), "workflow_run_id": run_id}
            node = {"id": self._new_id(), "node_id": "1745912968134", "node_type": "tool"}
            yield b"event: ping\n\n"
            yield event("workflow_started", **ids, data={**running, "created_at": 0})
            yield event("node_started", **ids, data={**node, "title": "Qwen-Image-Edit"})
            run = self._register(outcome, image, instruction, run_id)
            if outcome.cut_off:
                yield b'data: {"event": "node_fini'  # and the connection drops
                return
            if outcome.stall:
                time.sleep(outcome.stall)  # silence: the client's read timeout comes first
            if outcome.error_code:
                fields = {"code": outcome.error_code, "message": outcome.error or ""}
                yield event("error", **ids, status=outcome.error_status, **fields)
                return
            finished = {**node, "status": run["status"], "error": run["error"]}
            yield event("node_finished", **ids, data=finished)
            yield event("workflow_finished", **ids, data=run)

        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        return Reply(200, headers=headers, chunks=events())

    def _detail(self, run_id: str) -> Reply:
        with self._count:
            record = self.run_records.get(run_id)
        if record is None:
            return error(404, "not_found", "Workflow run not found.")
        ends_at, run = record
        if time.monotonic() < ends_at:
            return Reply.json({**run, "status": "running", "outputs": {}, "finished_at": None})
        detail = {key: run[key] for key in run if key != "files"}  # the detail has no files
        return Reply.json(detail)

    def _preview(self, request: Request) -> Reply:
        """A signed download, checked like Dify's (helpers.verify_file_signature)."""
        file_id = request.path.split("/")[-2]
        query = {key: values[0] for key, values in parse_qs(request.query).items()}
        timestamp, nonce = query.get("timestamp", "0"), query.get("nonce", "")
        signed = hmac.compare_digest(query.get("sign", ""), signature(file_id, timestamp, nonce))
        fresh = time.time() - int(timestamp) <= FILES_ACCESS_TIMEOUT
        if file_id not in self.files or not signed or not fresh:
            return error(404, "not_found", "File not found or signature is invalid")
        _, mime_type, data = self.files[file_id]
        return Reply(200, data, {"Content-Type": mime_type})


def replace_delay(document: dict[str, Any], seconds: float) -> Reply:
    """A blocking answer that leaves only when the run ends."""
    reply = Reply.json(document)
    reply.delay = seconds
    return reply


def _is_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, UnidentifiedImageError):
        return False
    return True
