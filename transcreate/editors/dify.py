"""Dify workflow apps: Qwen-Image-Edit-2509 as the seed serves it, behind a low-code workflow.

One edit is two calls to the app's Service API (``https://api.dify.ai/v1``, or ``http://<host>/v1``
when self-hosted), each with the app's key (``Authorization: Bearer app-…``):

1. ``POST /files/upload`` (multipart ``file`` + ``user``) → ``{"id": …}``, once per base image;
2. ``POST /workflows/run`` ``{"inputs": {<image>: {"type": "image", "transfer_method":
   "local_file", "upload_file_id": id}, <instruction>: text}, "response_mode", "user"}``.

Streaming (the default) sends server-sent events: ``workflow_started`` first, carrying the run's
``workflow_run_id``, then node events and ``ping`` every 10 s, and ``workflow_finished`` with
``data: {"status", "outputs", "error"}`` (event names: StreamEvent in
api/core/app/entities/task_entities.py). Blocking mode answers the same ``data`` at the end, but
gateways cut long requests off (Dify documents 100 s; users report 504s at ~60 s), and a cut-off
blocking run leaves no run id. Errors are ``{"code", "message", "status"}``.

A run is never started twice when the first may have finished: the run id from the first event is
written down (`transcreate.editors.journal`) before waiting, and a dropped stream, a read timeout, a
retry or a resumed run fetches that run's result by id — ``GET /workflows/run/{workflow_run_id}``
(WorkflowRunDetailApi in api/controllers/service_api/app/workflow.py: ``{"id", "status",
"outputs", "error", …}``) — before ever starting a new one. ``partial-succeeded`` (errors handled
by a fail branch or default value, outputs made: WorkflowExecutionStatus in
api/core/workflow/enums.py) is a success, logged as a note.

Every app names its own variables, so the names are options ([backends.dify] in the config file):
``image_input`` ("image"), ``image_input_type`` ("file", or "file-list" for a file-list variable),
``instruction_input`` ("instruction"), ``output`` (default: the first output that is an image),
``response_mode`` ("streaming" or "blocking"), ``user`` ("transcreate").

Reference, langgenius/dify: web/app/components/develop/template/template_workflow.en.mdx (the API
page every app shows), api/controllers/service_api/app/{workflow,file,error}.py,
api/libs/external_api.py (error bodies), api/core/app/apps/base_app_generator.py (input checks).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from transcreate.editors.journal import CallJournal, claimed
from transcreate.editors.prepare import PreparedImage
from transcreate.editors.redaction import scrubbed
from transcreate.editors.wire import (
    RETRYABLE_STATUS,
    Wire,
    check_response,
    decode_base64_image,
    download_image,
    transport_errors,
)
from transcreate.errors import (
    MalformedAnswerError,
    PermanentEditError,
    RetryableEditError,
    SetupError,
)
from transcreate.settings import ModelSettings

logger = logging.getLogger(__name__)

PROVIDER = "dify"
RESPONSE_MODES = ("streaming", "blocking")
SUCCEEDED = ("succeeded", "partial-succeeded")
POLL = (0.2, 5.0)  # seconds between looks at a running workflow: first, and most
IMAGE_INPUT_TYPES = ("file", "file-list")
FILE_IDENTITY = "__dify__file__"  # api/core/file/constants.py: marks a serialized File object
# How base64 images begin (PNG, JPEG, WebP, GIF): a text output is never taken for an image.
BASE64_IMAGE_PREFIXES = ("iVBORw0KGgo", "/9j/", "UklGR", "R0lGOD")
HINTS = {
    "unauthorized": "check DIFY_API_KEY: it must be the app's own API key, which starts app-",
    "invalid_param": "the app's input variables may have other names: set image_input and "
    "instruction_input in [backends.dify]",
}


class DifyWorkflowAPI:
    """One image edit per call against a published Dify workflow app."""

    def __init__(self, settings: ModelSettings, wire: Wire | None = None):
        wire = wire or Wire.to(settings)  # the root hands one in; this is for direct use
        options = settings.options
        self.settings = settings
        self.client, self.redact, self.journal = wire.client, wire.redact, wire.journal
        self.identity = f"{PROVIDER}/{settings.model}"
        self.image_input = str(options.get("image_input", "image"))
        self.image_input_type = str(options.get("image_input_type", "file"))
        self.instruction_input = str(options.get("instruction_input", "instruction"))
        self.output = str(options.get("output", ""))
        self.response_mode = str(options.get("response_mode", "streaming"))
        self.user = str(options.get("user", "transcreate"))
        for name, value, allowed in (
            ("response_mode", self.response_mode, RESPONSE_MODES),
            ("image_input_type", self.image_input_type, IMAGE_INPUT_TYPES),
        ):
            if value not in allowed:
                raise SetupError(
                    f"config file, [backends.dify]: {name} {value!r} is not one of "
                    f"{', '.join(allowed)}"
                )
        self._uploads: dict[str, str] = {}  # prepared image sha256 → Dify upload_file_id
        self._upload_lock = threading.Lock()

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        with scrubbed(self.redact):
            return self._edit(image, instruction)

    def _edit(self, image: PreparedImage, instruction: str) -> bytes:
        key = CallJournal.key(self.identity, self.settings.base_url, image.sha256, instruction)
        with claimed(self.journal, key) as receipt:
            if receipt.get("workflow_run_id"):  # an earlier attempt started it: collect it
                try:
                    run = self._collect(str(receipt["workflow_run_id"]))
                    if run is not None:
                        return self._result_bytes(self._pick_output(self._finished(run)))
                except PermanentEditError:  # it failed, or its files are gone: a new run
                    pass
                self.journal.end(key)
            payload = self._payload(self._upload(image), instruction)
            if self.response_mode == "streaming":
                run = self._run_streaming(payload, key)
            else:
                run = self._run_blocking(payload, key)
            return self._result_bytes(self._pick_output(self._finished(run)))

    def _payload(self, upload_id: str, instruction: str) -> dict[str, Any]:
        file = {"type": "image", "transfer_method": "local_file", "upload_file_id": upload_id}
        # A "file" variable takes one object, a "file-list" a list (base_app_generator.py).
        value: Any = [file] if self.image_input_type == "file-list" else file
        return {
            "inputs": {self.image_input: value, self.instruction_input: instruction},
            "response_mode": self.response_mode,
            "user": self.user,  # uploads are visible only to the user that made them
        }

    def _upload(self, image: PreparedImage) -> str:
        # One lock for all uploads: when many jobs start at once, one uploads, the others wait.
        with self._upload_lock:
            upload_id = self._uploads.get(image.sha256)
            if upload_id is None:
                files = {"file": (f"creative.{image.extension}", image.data, image.media_type)}
                with transport_errors(PROVIDER, self.redact):
                    response = self.client.post(
                        "files/upload", files=files, data={"user": self.user}
                    )
                check_response(
                    response, PROVIDER, lambda r: f"upload: {_error_message(r)}", self.redact
                )
                upload_id = _document(response).get("id")
                if not isinstance(upload_id, str) or not upload_id:
                    raise PermanentEditError(f"{PROVIDER}: the file upload answered without an id")
                self._uploads[image.sha256] = upload_id
            return upload_id

    def _run_blocking(self, payload: dict[str, Any], key: str) -> Mapping[str, Any]:
        with transport_errors(PROVIDER, self.redact):
            response = self.client.post("workflows/run", json=payload)
        check_response(response, PROVIDER, _error_message, self.redact)
        document = _document(response)
        if document.get("workflow_run_id"):  # a failed download fetches the run again
            self.journal.note(key, workflow_run_id=str(document["workflow_run_id"]))
        return _run_data(document)

    def _run_streaming(self, payload: dict[str, Any], key: str) -> Mapping[str, Any]:
        run_id = ""
        try:
            with self.client.stream("POST", "workflows/run", json=payload) as response:
                if not response.is_success:
                    response.read()
                    check_response(response, PROVIDER, _error_message, self.redact)
                for event in _events(response.iter_lines()):
                    if not run_id and event.get("workflow_run_id"):
                        run_id = str(event["workflow_run_id"])
                        self.journal.note(key, workflow_run_id=run_id)  # before any wait
                    name = event.get("event")
                    if name == "workflow_finished":
                        return _run_data(event)
                    if name == "workflow_paused":  # waits for a person (Human Input node)
                        return {"status": "paused"}
                    if name == "error":
                        raise _stream_error(event)
                    # workflow_started, node_started, node_finished, text_chunk …: progress only
        except httpx.TransportError as error:  # timeouts and dropped connections included
            if not run_id:
                with transport_errors(PROVIDER, self.redact):
                    raise error from None
        if not run_id:
            raise RetryableEditError(f"{PROVIDER}: stream cut off before workflow_finished")
        # The run goes on on Dify's side: its result is fetched by id, never made again.
        return self._wait_for(run_id)

    def _collect(self, run_id: str) -> Mapping[str, Any] | None:
        """The run an earlier attempt started, once it has ended; None if it is gone or was
        stopped (a new run is then the only way)."""
        run = self._run_detail(run_id)
        if run is None or run.get("status") == "stopped":
            return None
        return self._wait_for(run_id) if run.get("status") == "running" else run

    def _wait_for(self, run_id: str) -> Mapping[str, Any]:
        """Poll the run until it ends, for up to one more call timeout; if it still runs, a
        retryable error (the run id stays written down for the next attempt)."""
        deadline = time.monotonic() + self.settings.timeout
        pause = POLL[0]
        while True:
            run = self._run_detail(run_id)
            if run is None:
                raise RetryableEditError(f"{PROVIDER}: the workflow run {run_id} is not found")
            if run.get("status") != "running":
                return run
            if time.monotonic() + pause > deadline:
                raise RetryableEditError(
                    f"{PROVIDER}: the workflow run {run_id} is still running; the next attempt "
                    "collects it (no new run is started)"
                )
            time.sleep(pause)
            pause = min(pause * 2, POLL[1])

    def _run_detail(self, run_id: str) -> Mapping[str, Any] | None:
        with transport_errors(PROVIDER, self.redact):
            response = self.client.get(f"workflows/run/{run_id}")
        if response.status_code == 404:
            return None
        check_response(response, PROVIDER, _error_message, self.redact)
        return _document(response)

    def _finished(self, run: Mapping[str, Any]) -> Mapping[str, Any]:
        """The run if it succeeded (partly, with its errors handled, included); else the error
        that says why not."""
        status = run.get("status")
        if status == "partial-succeeded":
            note = self.redact(str(run.get("error") or "some nodes failed and were handled"))
            logger.warning(
                "%s: the workflow partially succeeded (%s); its outputs are used", PROVIDER, note
            )
        if status in SUCCEEDED:
            return run
        if status == "failed":
            raise PermanentEditError(f"{PROVIDER}: the workflow failed: {run.get('error') or '?'}")
        if status == "stopped":  # someone stopped the task; a new run can finish
            raise RetryableEditError(f"{PROVIDER}: the workflow run was stopped")
        if status == "paused":
            raise PermanentEditError(
                f"{PROVIDER}: the workflow paused for human input; publish a version without a "
                "Human Input node for API use"
            )
        raise PermanentEditError(f"{PROVIDER}: the workflow ended with status {status!r}")

    def _pick_output(self, run: Mapping[str, Any]) -> Any:
        outputs = run.get("outputs") or {}
        if self.output:
            if self.output not in outputs:
                raise PermanentEditError(
                    f"{PROVIDER}: the workflow has no output {self.output!r} (its outputs: "
                    f"{', '.join(outputs) or 'none'}); set output in [backends.dify]"
                )
            return outputs[self.output]
        for value in outputs.values():
            if _looks_like_image(value):
                return value
        if run.get("files"):  # newer Dify lists the run's output files beside the outputs
            return run["files"]
        raise PermanentEditError(
            f"{PROVIDER}: no workflow output is an image (outputs: "
            f"{', '.join(outputs) or 'none'}); name one with output in [backends.dify]"
        )

    def _result_bytes(self, value: Any) -> bytes:
        limit = self.settings.max_result_bytes
        if isinstance(value, list) and value:
            value = value[0]  # an array[file] output: the first file
        if isinstance(value, dict):
            value = value.get("url") or value.get("remote_url") or ""
        if not isinstance(value, str) or not value:
            raise PermanentEditError(f"{PROVIDER}: the image output has no URL or data")
        if value.startswith("data:") or value.startswith(BASE64_IMAGE_PREFIXES):
            return decode_base64_image(value, provider=PROVIDER, max_bytes=limit)
        # Signed file URLs are relative to the API host unless the server sets FILES_URL
        # (api/core/file/helpers.py: f"{FILES_URL}/files/{id}/file-preview?timestamp=…&sign=…").
        url = str(httpx.URL(self.settings.base_url).join(value))
        return download_image(
            self.client, url, provider=PROVIDER, max_bytes=limit, redact=self.redact
        )


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON of each server-sent event. Dify sends one ``data:`` line per event, and
    ``event: ping`` every 10 s to keep the connection (base_app_generate_response_converter.py)."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
        elif not line and data:  # a blank line ends an event; one cut off midway is dropped
            try:
                event = json.loads("\n".join(data))
            except ValueError:
                text = data[0][:80]
                raise MalformedAnswerError(f"{PROVIDER}: an event is not JSON: {text!r}") from None
            data = []
            if isinstance(event, dict):
                yield event


def _stream_error(event: Mapping[str, Any]) -> Exception:
    status = int(event.get("status") or 500)
    text = f"{PROVIDER}: {event.get('code', 'error')}: {event.get('message', '')}"
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableEditError(text)
    return PermanentEditError(text)


def _looks_like_image(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and _looks_like_image(value[0])
    if isinstance(value, dict):
        return value.get("dify_model_identity") == FILE_IDENTITY or "url" in value
    if isinstance(value, str):
        return value.startswith(("https://", "http://", "data:image/", *BASE64_IMAGE_PREFIXES))
    return False


def _document(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise MalformedAnswerError(f"{PROVIDER}: unexpected response: {response.text[:200]!r}")
    return document


def _run_data(document: Mapping[str, Any]) -> Mapping[str, Any]:
    data = document.get("data")
    if not isinstance(data, dict):
        raise MalformedAnswerError(f"{PROVIDER}: the workflow answer has no data object")
    return data


def _error_message(response: httpx.Response) -> str:
    """``code: message`` from Dify's error body (api/libs/external_api.py), with a next step."""
    body = response.json()
    code, message = str(body["code"]), str(body.get("message", ""))
    hint = HINTS.get(code) if code != "invalid_param" or "input form" in message else None
    return f"{code}: {message}" + (f" ({hint})" if hint else "")
