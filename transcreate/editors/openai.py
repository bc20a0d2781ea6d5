"""OpenAI-compatible ``POST /v1/images/edits``: how self-hosted Qwen-Image-Edit servers are reached.

The request is multipart form data (``image``, ``prompt``, ``model``, ``n`` and the options the
model documents); the result is ``data[0].b64_json`` or ``data[0].url``; errors are
``{"error": {"message", "type", "param", "code"}}``.

Only what the configured model documents is sent (API reference, createEdit:
https://platform.openai.com/docs/api-reference/images/createEdit, and openai-python's
``images.edit``): ``response_format`` is dall-e-2's (gpt-image models always answer in base64 and
refuse it as an unknown parameter); ``background``, ``input_fidelity``, ``output_compression``,
``output_format`` and ``quality`` are the gpt-image models'; ``size`` and ``user`` are everyone's.
A server of an open model (vLLM-Omni, https://docs.vllm.ai/projects/vllm-omni/en/latest/serving/
image_edit_api/) takes the common fields and its own (``negative_prompt``, ``seed``,
``num_inference_steps``, ``guidance_scale`` …): those go under ``[backends.openai.extra]`` in the
config file and are sent as they are. A name that is none of these is refused, with the closest
known name, so a misspelling never silently does nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx

from transcreate.editors.journal import CallJournal, claimed
from transcreate.editors.prepare import PreparedImage
from transcreate.editors.redaction import scrubbed
from transcreate.editors.wire import (
    Wire,
    check_response,
    decode_base64_image,
    download_image,
    post_form,
    transport_errors,
)
from transcreate.errors import MalformedAnswerError, PermanentEditError, SetupError
from transcreate.settings import ModelSettings

PROVIDER = "openai"
COMMON = frozenset({"size", "user"})
GPT_IMAGE = COMMON | {
    "background",
    "input_fidelity",
    "output_compression",
    "output_format",
    "quality",
}
DALL_E_2 = COMMON | {"response_format"}
# An open model behind a compatible server documents the common fields and response_format
# (vLLM-Omni and LightX2V answer b64_json unless asked for a url).
OPEN_MODEL = COMMON | {"response_format"}
KNOWN = GPT_IMAGE | DALL_E_2
EXTRA = "extra"  # the sub-table of server-specific fields, sent verbatim


def documented(model: str) -> frozenset[str]:
    """The form fields ``model`` documents, besides image, prompt, model and n."""
    if model.startswith("gpt-image"):
        return GPT_IMAGE
    if model == "dall-e-2":
        return DALL_E_2
    return OPEN_MODEL


def form_fields(model: str, options: Mapping[str, Any]) -> dict[str, str]:
    """The form fields to send for ``model`` from the config file's options; a field the model
    does not document, or a misspelt one, is a SetupError."""
    allowed = documented(model)
    fields: dict[str, str] = {}
    for name, value in options.items():
        if name == EXTRA:
            continue
        if name not in allowed:
            raise SetupError(_unknown(name, model, allowed))
        if value not in ("", None):
            fields[name] = _text(value)
    extra = options.get(EXTRA, {})
    if not isinstance(extra, Mapping):
        raise SetupError(
            f"config file, [backends.{PROVIDER}]: {EXTRA} must be a table of the server's own "
            f"fields ([backends.{PROVIDER}.{EXTRA}]), not {extra!r}"
        )
    for name, value in extra.items():
        near = difflib.get_close_matches(name, sorted(KNOWN | {"model", "prompt", "n"}), n=1)
        if name in KNOWN | {"image", "prompt", "model", "n"} or (near and near[0] != name):
            hint = f"; did you mean {near[0]}?" if near and near[0] != name else ""
            raise SetupError(
                f"config file, [backends.{PROVIDER}.{EXTRA}]: {name} is (or looks like) a "
                f"standard field{hint} Put standard fields in [backends.{PROVIDER}] itself"
            )
        fields[str(name)] = _text(value)
    return fields


def _unknown(name: str, model: str, allowed: frozenset[str]) -> str:
    near = difflib.get_close_matches(name, sorted(KNOWN), n=1)
    if name in KNOWN:
        why = f"{model} does not take {name}"
        if name == "response_format" and model.startswith("gpt-image"):
            why += " (gpt-image models always answer in base64)"
    else:
        why = f"{name} is not a field of the images API" + (
            f"; did you mean {near[0]}?" if near else ""
        )
    return (
        f"config file, [backends.{PROVIDER}]: {why}. {model} takes: {', '.join(sorted(allowed))}; "
        f"a server's own fields (negative_prompt, seed …) go in [backends.{PROVIDER}.{EXTRA}]"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class OpenAIImagesAPI:
    """One image edit per call against an OpenAI-compatible images endpoint."""

    def __init__(self, settings: ModelSettings, wire: Wire | None = None):
        wire = wire or Wire.to(settings)  # the root hands one in; this is for direct use
        self.settings = settings
        self.fields = form_fields(settings.model, settings.options)
        self.client, self.redact, self.journal = wire.client, wire.redact, wire.journal
        canonical = json.dumps(self.fields, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
        # every field sent can change the result: part of the identity
        self.identity = f"{PROVIDER}/{settings.model}" + (f"@{digest}" if self.fields else "")

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        with scrubbed(self.redact):
            return self._edit(image, instruction)

    def _edit(self, image: PreparedImage, instruction: str) -> bytes:
        # A result link is written down before it is fetched (a failed download is fetched
        # again, never edited again), and an inline result is kept, so a concurrent run of the
        # same campaign takes it. A timeout before the answer leaves nothing to resume: the
        # images API has no task id.
        key = CallJournal.key(self.identity, self.settings.base_url, image.sha256, instruction)
        limit = self.settings.max_result_bytes
        with claimed(self.journal, key) as receipt:
            if receipt.get("result_url"):
                try:
                    return download_image(
                        self.client,
                        str(receipt["result_url"]),
                        provider=PROVIDER,
                        max_bytes=limit,
                        redact=self.redact,
                    )
                except PermanentEditError:  # the link has expired: a new edit is the only way
                    self.journal.end(key)
            kept = self.journal.kept(receipt)
            if kept is not None:
                return kept
            item = self._generate(image, instruction, key)
            if item.get("b64_json"):
                data = decode_base64_image(item["b64_json"], provider=PROVIDER, max_bytes=limit)
                self.journal.keep(key, data)
                return data
            if item.get("url"):
                return download_image(
                    self.client, item["url"], provider=PROVIDER, max_bytes=limit, redact=self.redact
                )
            raise MalformedAnswerError(f"{PROVIDER}: data[0] has neither b64_json nor url")

    def _generate(self, image: PreparedImage, instruction: str, key: str) -> dict[str, Any]:
        """One paid edit: ``data[0]``; a result link in it is written down in the journal."""
        fields = {"model": self.settings.model, "prompt": instruction, "n": "1", **self.fields}
        files = {"image": (f"image.{image.extension}", image.data, image.media_type)}
        with transport_errors(PROVIDER, self.redact):
            response = post_form(self.client, "images/edits", data=fields, files=files)
        check_response(response, PROVIDER, _error_message, self.redact)
        try:
            item = response.json()["data"][0]
            if not isinstance(item, dict):
                raise TypeError
        except (ValueError, KeyError, IndexError, TypeError):  # a garbled success: asked again
            raise MalformedAnswerError(
                f"{PROVIDER}: unexpected response without data[0]: {response.text[:200]!r}"
            ) from None
        if isinstance(item.get("url"), str):
            self.journal.note(key, result_url=item["url"])
        return item


def _error_message(response: httpx.Response) -> str:
    error = response.json()["error"]
    code = error.get("code") or error.get("type") or "error"
    return f"{code}: {error.get('message', '')}"
