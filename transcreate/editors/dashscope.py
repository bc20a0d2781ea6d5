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
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from transcreate.editors.journal import CallJournal, claimed
from transcreate.editors.prepare import PreparedImage
from transcreate.editors.redaction import scrubbed
from transcreate.editors.wire import Wire, check_response, download_image, transport_errors
from transcreate.errors import MalformedAnswerError, PermanentEditError, SetupError
from transcreate.settings import ModelSettings

PROVIDER = "dashscope"
ENDPOINT = "services/aigc/multimodal-generation/generation"
# Config-file settings sent as `parameters`, with their types. `n` stays 1: a job keeps one result
# and the service bills every image it makes (qwen-image-edit-plus returns 1-6; we take the first).
PARAMETERS: dict[str, type] = {
    "negative_prompt": str,
    "prompt_extend": bool,  # the service's default is true: it rewrites the instruction
    "seed": int,
    "size": str,  # "width*height"
    "watermark": bool,
}
# Which parameters each model family documents (the model table and the `parameters` table of
# https://www.alibabacloud.com/help/en/model-studio/qwen-image-edit-api): qwen-image-edit makes
# one image at a resolution it chooses, and does not rewrite prompts; the -plus and -max series
# take n (1-6), size and prompt_extend. A model name we do not know is taken for the newest family.
FIRST_FAMILY = frozenset({"negative_prompt", "seed", "watermark"})
PLUS_FAMILY = frozenset(PARAMETERS) | {"n"}
FIRST_FAMILY_MODELS = frozenset({"qwen-image-edit"})
# Sent unless the config file says otherwise: one image, no watermark, and the instruction as
# written (prompt_extend would let the service rewrite the localized copy it quotes).
DEFAULTS: dict[str, Any] = {"n": 1, "watermark": False, "prompt_extend": False}
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

    def __init__(self, settings: ModelSettings, wire: Wire | None = None):
        wire = wire or Wire.to(settings)  # the root hands one in; this is for direct use
        self.settings = settings
        self.parameters = model_parameters(settings.model, settings.options)
        self.client, self.redact, self.journal = wire.client, wire.redact, wire.journal
        # Every parameter sent changes the output (a seed, a negative prompt, prompt_extend).
        canonical = json.dumps(self.parameters, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
        self.identity = f"{PROVIDER}/{settings.model}@{digest}"

    #: Qwen-Image-Edit takes 1-3 images in one message (its API reference): a row's logo goes
    #: first and the creative last, since the output keeps the last image's aspect ratio
    max_images = 3

    def edit_image(
        self, image: PreparedImage, instruction: str, references: Sequence[PreparedImage] = ()
    ) -> bytes:
        with scrubbed(self.redact):
            return self._edit(image, instruction, tuple(references[: self.max_images - 1]))

    def _edit(
        self, image: PreparedImage, instruction: str, references: tuple[PreparedImage, ...] = ()
    ) -> bytes:
        # The service answers with a link valid for 24 hours: once it is written down, a failed
        # download, a retry or a resumed run fetches it again instead of paying for a new edit.
        # (The endpoint is synchronous only, so a timeout before the answer leaves nothing to
        # resume: Qwen-Image-Edit's API reference documents no task id for it.)
        inputs = "+".join(picture.sha256 for picture in (*references, image))
        key = CallJournal.key(self.identity, self.settings.base_url, inputs, instruction)
        with claimed(self.journal, key) as receipt:
            if receipt.get("result_url"):
                try:
                    return self._download(str(receipt["result_url"]))
                except PermanentEditError:  # the link has expired: a new edit is the only way
                    self.journal.end(key)
            return self._download(self._generate(image, instruction, key, references))

    def _download(self, url: str) -> bytes:
        return download_image(
            self.client,
            url,
            provider=PROVIDER,
            max_bytes=self.settings.max_result_bytes,
            redact=self.redact,
        )

    def _generate(
        self,
        image: PreparedImage,
        instruction: str,
        key: str,
        references: tuple[PreparedImage, ...] = (),
    ) -> str:
        """One paid edit; the link to its result, written down in the journal."""
        # Sides of 384-3072 px are the guide's recommendation for quality, not a limit the
        # service enforces: an image outside it is sent as it is.
        # A link to the creative in object storage saves sending its bytes with every call.
        pictures = [{"image": ref.url or ref.data_uri()} for ref in references]
        content = [*pictures, {"image": image.url or image.data_uri()}, {"text": instruction}]
        body = {
            "model": self.settings.model,
            "input": {"messages": [{"role": "user", "content": content}]},
            "parameters": self.parameters,
        }
        with transport_errors(PROVIDER, self.redact):
            response = self.client.post(ENDPOINT, json=body)
        document = _json(response)
        code = str(document.get("code") or "")
        if code in REFUSALS:
            raise PermanentEditError(
                f"{PROVIDER}: refused by content moderation: {self._detail(response)}; change "
                "the instruction or the creative (retrying cannot help)"
            )
        check_response(response, PROVIDER, self._detail, self.redact)
        try:
            items = document["output"]["choices"][0]["message"]["content"]
            url = next(item["image"] for item in items if "image" in item)
        except (KeyError, IndexError, TypeError, StopIteration):  # a garbled success: asked again
            raise MalformedAnswerError(
                f"{PROVIDER}: no image in output.choices[0].message.content "
                f"({self._detail(response)})"
            ) from None
        self.journal.note(key, result_url=str(url))
        return str(url)

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
        return self.redact(text)


def model_parameters(model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The request's ``parameters`` for ``model``: the defaults its family documents, then the
    config file's typed settings; a setting the model does not document is refused."""
    documented = FIRST_FAMILY if model in FIRST_FAMILY_MODELS else PLUS_FAMILY
    parameters = {name: value for name, value in DEFAULTS.items() if name in documented}
    for name, value in options.items():
        kind = PARAMETERS.get(name)
        if name == "n" and value == 1:
            continue
        if kind is None:
            raise SetupError(
                f"config file, [backends.{PROVIDER}]: {name} is not a setting of this backend; "
                f"known: {', '.join(sorted(PARAMETERS))} (n is always 1: one result per job)"
            )
        if name not in documented:
            raise SetupError(
                f"config file, [backends.{PROVIDER}]: {model} does not take {name}; it takes "
                f"{', '.join(sorted(documented))} (remove {name}, or choose a -plus or -max model)"
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
