"""OpenAI-compatible ``POST /v1/images/edits``: how self-hosted Qwen-Image-Edit servers are reached.

The request is multipart form data (``image``, ``prompt``, ``model``, ``n``, ``size``,
``response_format``); the result is ``data[0].b64_json`` or ``data[0].url``; errors are
``{"error": {"message", "type", "param", "code"}}``.
Reference: https://platform.openai.com/docs/api-reference/images/createEdit
"""

from __future__ import annotations

from typing import Any

import httpx

from transcreate.editors.http import (
    PreparedImage,
    check_response,
    decode_base64_image,
    download_image,
    new_client,
    transport_errors,
)
from transcreate.errors import PermanentEditError
from transcreate.settings import ModelSettings

PROVIDER = "openai"


class OpenAIImagesAPI:
    """One image edit per call against an OpenAI-compatible images endpoint."""

    def __init__(self, settings: ModelSettings, client: httpx.Client | None = None):
        self.settings = settings
        self.client = client or new_client(settings)
        self.identity = f"{PROVIDER}/{settings.model}"

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        options = self.settings.options
        fields: dict[str, Any] = {"model": self.settings.model, "prompt": instruction, "n": "1"}
        # gpt-image models always answer in base64 and refuse the field; servers of open models
        # (Qwen-Image-Edit behind vLLM-Omni, LightX2V …) accept it. Empty string: leave it out.
        response_format = options.get("response_format", "b64_json")
        if response_format:
            fields["response_format"] = response_format
        if options.get("size"):
            fields["size"] = str(options["size"])
        files = {"image": (f"image.{image.extension}", image.data, image.media_type)}
        with transport_errors(PROVIDER):
            response = self.client.post("images/edits", data=fields, files=files)
        check_response(response, PROVIDER, _error_message)
        try:
            item = response.json()["data"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise PermanentEditError(
                f"{PROVIDER}: unexpected response without data[0]: {response.text[:200]!r}"
            ) from None
        limit = self.settings.max_result_bytes
        if item.get("b64_json"):
            return decode_base64_image(item["b64_json"], provider=PROVIDER, max_bytes=limit)
        if item.get("url"):
            return download_image(self.client, item["url"], provider=PROVIDER, max_bytes=limit)
        raise PermanentEditError(f"{PROVIDER}: data[0] has neither b64_json nor url")


def _error_message(response: httpx.Response) -> str:
    error = response.json()["error"]
    code = error.get("code") or error.get("type") or "error"
    return f"{code}: {error.get('message', '')}"
