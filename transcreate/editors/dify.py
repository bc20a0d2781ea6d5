"""Dify workflow apps: Qwen-Image-Edit-2509 as the seed serves it, behind a low-code workflow.

One edit is two calls to the app's Service API (``https://api.dify.ai/v1``, or ``http://<host>/v1``
when self-hosted), each with the app's key (``Authorization: Bearer app-…``):

1. ``POST /files/upload`` (multipart ``file`` + ``user``) → ``{"id": …}``, once per base image;
2. ``POST /workflows/run`` ``{"inputs": {<image>: {"type": "image", "transfer_method":
   "local_file", "upload_file_id": id}, <instruction>: text}, "response_mode", "user"}``.

Blocking mode answers ``{"data": {"status", "outputs", "error"}}``; streaming mode sends server-sent
events whose ``workflow_finished`` carries the same ``data``. Errors are ``{"code", "message",
"status"}``. Every app names its own variables, so the names are options ([backends.dify] in the
config file): ``image_input`` ("image"), ``image_input_type`` ("file", or "file-list" for a
file-list variable), ``instruction_input`` ("instruction"), ``output`` (default: the first output
that is an image), ``response_mode`` ("blocking" or "streaming"), ``user`` ("transcreate").

Reference, langgenius/dify: web/app/components/develop/template/template_workflow.en.mdx (the API
page every app shows), api/controllers/service_api/app/{workflow,file,error}.py,
api/libs/external_api.py (error bodies), api/core/app/apps/base_app_generator.py (input checks).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from transcreate.editors.http import (
    RETRYABLE_STATUS,
    PreparedImage,
    check_response,
    decode_base64_image,
    download_image,
    new_client,
    transport_errors,
)
from transcreate.errors import PermanentEditError, RetryableEditError, SetupError
from transcreate.settings import ModelSettings

PROVIDER = "dify"
RESPONSE_MODES = ("blocking", "streaming")
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

    def __init__(self, settings: ModelSettings, client: httpx.Client | None = None):
        options = settings.options
        self.settings = settings
        self.client = client or new_client(settings)
        self.identity = f"{PROVIDER}/{settings.model}"
        self.image_input = str(options.get("image_input", "image"))
        self.image_input_type = str(options.get("image_input_type", "file"))
        self.instruction_input = str(options.get("instruction_input", "instruction"))
        self.output = str(options.get("output", ""))
        self.response_mode = str(options.get("response_mode", "blocking"))
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
        upload_id = self._upload(image)
        file = {"type": "image", "transfer_method": "local_file", "upload_file_id": upload_id}
        # A "file" variable takes one object, a "file-list" a list (base_app_generator.py).
        value: Any = [file] if self.image_input_type == "file-list" else file
        payload = {
            "inputs": {self.image_input: value, self.instruction_input: instruction},
            "response_mode": self.response_mode,
            "user": self.user,  # uploads are visible only to the user that made them
        }
        if self.response_mode == "streaming":
            run = self._run_streaming(payload)
        else:
            run = self._run_blocking(payload)
        return self._result_bytes(self._pick_output(_finished(run)))

    def _upload(self, image: PreparedImage) -> str:
        # One lock for all uploads: when many jobs start at once, one uploads, the others wait.
        with self._upload_lock:
            upload_id = self._uploads.get(image.sha256)
            if upload_id is None:
                files = {"file": (f"creative.{image.extension}", image.data, image.media_type)}
                with transport_errors(PROVIDER):
                    response = self.client.post(
                        "files/upload", files=files, data={"user": self.user}
                    )
                check_response(response, PROVIDER, lambda r: f"upload: {_error_message(r)}")
                upload_id = _document(response).get("id")
                if not isinstance(upload_id, str) or not upload_id:
                    raise PermanentEditError(f"{PROVIDER}: the file upload answered without an id")
                self._uploads[image.sha256] = upload_id
            return upload_id

    def _run_blocking(self, payload: dict[str, Any]) -> Mapping[str, Any]:
        with transport_errors(PROVIDER):
            response = self.client.post("workflows/run", json=payload)
        check_response(response, PROVIDER, _error_message)
        return _run_data(_document(response))

    def _run_streaming(self, payload: dict[str, Any]) -> Mapping[str, Any]:
        with (
            transport_errors(PROVIDER),
            self.client.stream("POST", "workflows/run", json=payload) as response,
        ):
            if not response.is_success:
                response.read()
                check_response(response, PROVIDER, _error_message)
            for event in _events(response.iter_lines()):
                name = event.get("event")
                if name == "workflow_finished":
                    return _run_data(event)
                if name == "workflow_paused":  # waits for a person (Human Input node)
                    return {"status": "paused"}
                if name == "error":
                    raise _stream_error(event)
                # workflow_started, node_started, node_finished, text_chunk …: progress only
        raise RetryableEditError(f"{PROVIDER}: stream cut off before workflow_finished")

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
        return download_image(self.client, url, provider=PROVIDER, max_bytes=limit)


def _finished(run: Mapping[str, Any]) -> Mapping[str, Any]:
    """The run if it succeeded; else the error that says why not."""
    status = run.get("status")
    if status == "succeeded":
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
                raise PermanentEditError(f"{PROVIDER}: an event is not JSON: {text!r}") from None
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
        raise PermanentEditError(f"{PROVIDER}: unexpected response: {response.text[:200]!r}")
    return document


def _run_data(document: Mapping[str, Any]) -> Mapping[str, Any]:
    data = document.get("data")
    if not isinstance(data, dict):
        raise PermanentEditError(f"{PROVIDER}: the workflow answer has no data object")
    return data


def _error_message(response: httpx.Response) -> str:
    """``code: message`` from Dify's error body (api/libs/external_api.py), with a next step."""
    body = response.json()
    code, message = str(body["code"]), str(body.get("message", ""))
    hint = HINTS.get(code) if code != "invalid_param" or "input form" in message else None
    return f"{code}: {message}" + (f" ({hint})" if hint else "")
