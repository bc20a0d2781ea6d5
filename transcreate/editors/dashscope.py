"""Alibaba Cloud Model Studio (DashScope): Qwen-Image-Edit over its native HTTP API.

``POST {base_url}/services/aigc/multimodal-generation/generation`` with one user message whose
content is the image (a ``data:`` URI) then the instruction; the edit comes back as a signed link
in ``output.choices[0].message.content[*].image``, valid for 24 hours, so it is fetched at once.
Errors are ``{"request_id", "code", "message"}`` with an HTTP status (400 InvalidParameter and
DataInspectionFailed, 401 InvalidApiKey, 429 Throttling.*, 5xx).
Reference: https://www.alibabacloud.com/help/en/model-studio/qwen-image-edit-api
Error codes: https://www.alibabacloud.com/help/en/model-studio/error-code
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx

from transcreate.editors.http import (
    PreparedImage,
    check_response,
    download_image,
    new_client,
    transport_errors,
)
from transcreate.errors import PermanentEditError, SetupError
from transcreate.settings import ModelSettings

PROVIDER = "dashscope"
ENDPOINT = "services/aigc/multimodal-generation/generation"
# Config-file settings sent as `parameters`, with their types. `n` stays 1: a job keeps one result
# and the service bills every image it makes.
PARAMETERS: dict[str, type] = {
    "negative_prompt": str,
    "prompt_extend": bool,  # the service's default is true: it rewrites the instruction
    "seed": int,
    "size": str,  # "width*height"
    "watermark": bool,
}
DEFAULTS: dict[str, Any] = {"n": 1, "watermark": False}
# The documented input limits: each side within [384, 3072] px, at most 10 MB.
SIDES = (384, 3072)
# Content moderation checks input and output; the same request is refused again.
REFUSALS = frozenset({"DataInspectionFailed", "IPInfringementSuspect", "data_inspection_failed"})
HINTS = {
    "InvalidApiKey": "check DASHSCOPE_API_KEY, and that the key belongs to the region of "
    "DASHSCOPE_BASE_URL (Beijing and Singapore keys differ)",
    "Arrearage": "the Alibaba Cloud account has an overdue payment",
    "ModelNotFound": "check the model name and that the region offers it",
}


class DashScopeAPI:
    """One image edit per call against Model Studio's Qwen-Image-Edit models."""

    def __init__(self, settings: ModelSettings, client: httpx.Client | None = None):
        self.settings = settings
        self.parameters = model_parameters(settings.options)
        self.client = client or new_client(settings)
        self.identity = f"{PROVIDER}/{settings.model}"
        if self.parameters != DEFAULTS:  # a changed seed or negative prompt changes the output
            canonical = json.dumps(self.parameters, sort_keys=True, ensure_ascii=False)
            self.identity += "@" + hashlib.sha256(canonical.encode()).hexdigest()[:8]

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        low, high = SIDES
        if not low <= min(image.width, image.height) <= max(image.width, image.height) <= high:
            raise PermanentEditError(
                f"{PROVIDER}: the image is {image.width}×{image.height} px as prepared; "
                f"Qwen-Image-Edit takes sides of {low} to {high} px"
            )
        # A link to the creative in object storage saves sending its bytes with every call.
        content = [{"image": image.url or image.data_uri()}, {"text": instruction}]
        body = {
            "model": self.settings.model,
            "input": {"messages": [{"role": "user", "content": content}]},
            "parameters": self.parameters,
        }
        with transport_errors(PROVIDER):
            response = self.client.post(ENDPOINT, json=body)
        document = _json(response)
        code = str(document.get("code") or "")
        if code in REFUSALS:
            raise PermanentEditError(
                f"{PROVIDER}: refused by content moderation: {self._detail(response)}; change "
                "the instruction or the creative (retrying cannot help)"
            )
        check_response(response, PROVIDER, self._detail)
        try:
            items = document["output"]["choices"][0]["message"]["content"]
            url = next(item["image"] for item in items if "image" in item)
        except (KeyError, IndexError, TypeError, StopIteration):
            raise PermanentEditError(
                f"{PROVIDER}: no image in output.choices[0].message.content "
                f"({self._detail(response)})"
            ) from None
        return download_image(
            self.client, str(url), provider=PROVIDER, max_bytes=self.settings.max_result_bytes
        )

    def _detail(self, response: httpx.Response) -> str:
        """The service's code and message, with the request id support asks for; never the key."""
        document = _json(response)
        if "code" in document or "message" in document:
            code = str(document.get("code") or "error")
            text = f"{code}: {document.get('message', '')}"
            if document.get("request_id"):
                text += f" (request_id {document['request_id']})"
            if code in HINTS:
                text += f"; {HINTS[code]}"
        else:
            text = response.text[:300]
        key = self.settings.api_key
        return text.replace(key, "***") if key else text


def model_parameters(options: Mapping[str, Any]) -> dict[str, Any]:
    """The request's ``parameters``: the defaults, then the config file's typed settings."""
    parameters = dict(DEFAULTS)
    for name, value in options.items():
        kind = PARAMETERS.get(name)
        if name == "n" and value == 1:
            continue
        if kind is None:
            raise SetupError(
                f"config file, [backends.{PROVIDER}]: {name} is not a setting of this backend; "
                f"known: {', '.join(sorted(PARAMETERS))} (n is always 1: one result per job)"
            )
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SetupError(
                f"config file, [backends.{PROVIDER}]: {name} must be a {kind.__name__}, "
                f"not {value!r}"
            )
        parameters[name] = value
    return parameters


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
