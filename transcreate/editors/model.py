"""What every image-edit model backend shares, whatever its wire protocol.

A backend module implements only `ModelAPI.edit_image` (one request → the result image's bytes) for
its provider. `ModelEditor` wraps it into an editor: prepares the base image once (scaled to the
long side the model wants, re-encoded, size-checked), bounds concurrent calls to the endpoint,
caches results so a call is not paid for twice, and returns PNG bytes at the base image's own
size (the model's canvas mapped back, so `model+overlay` sets the copy at full resolution).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from transcreate.editors import Edited
from transcreate.editors.cache import ResultCache
from transcreate.editors.prepare import PreparedImage, prepared_once
from transcreate.editors.results import (
    drift,
    fit_to_base,
    result_png,
    upright_size,
    with_layout_record,
)
from transcreate.errors import PermanentEditError
from transcreate.images import encode_png
from transcreate.jobs import EditJob
from transcreate.settings import ModelSettings

if TYPE_CHECKING:
    from transcreate.compose.saliency import ProductMask  # numpy: loaded when first needed

_DRIFT_SIDE = 256  # px on the long side the drift check compares at, at least

ReadImage = Callable[[str, str | None], bytes]  # (sha256, location) → the image's bytes


class ModelAPI(Protocol):
    """One provider's wire protocol."""

    #: provider/model, e.g. "dashscope/qwen-image-edit-plus", refined by the provider with what
    #: it sends beyond the settings; `model_identity` adds the endpoint and every setting.
    identity: str

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        """Send one edit; return the result image's bytes (any common format)."""
        ...


Gate = Callable[[], contextlib.AbstractContextManager[object]]

# Providers whose API key names the thing that edits, not only who pays: a Dify key belongs to one
# app (one workflow), so two keys on one Dify host are two different editors. A DashScope or
# OpenAI key names an account; the model named in the settings decides the result.
APP_KEYED_PROVIDERS = frozenset({"dify"})
# How a model's result becomes the job's output (see `fit_to_base`); a change here re-renders.
RESULT_FORM = "png at the base's size, lanczos"


def model_identity(api_identity: str, settings: ModelSettings) -> str:
    """The editor's identity: ``<provider>/<model>#<digest>``, the digest over everything that
    decides a result: the endpoint's base URL, the model, every provider option, how the input
    is prepared and the output formed, and for an app-keyed provider (Dify) the app behind the
    key — as a SHA-256 of the key, so the key itself is never stored or shown.

    It is part of every job key (so of the output's storage key) and of the result cache key: a
    fake or another region never serves its results as this endpoint's. Stable across runs and
    processes while nothing changes.
    """
    app = ""
    if settings.provider in APP_KEYED_PROVIDERS:
        app = hashlib.sha256(settings.api_key.encode("utf-8")).hexdigest()
    determinants = {
        "api": api_identity,
        "provider": settings.provider,
        "endpoint": settings.base_url.rstrip("/"),
        "model": settings.model,
        "options": dict(settings.options),
        "app": app,
        "input": [settings.max_side, settings.max_upload_bytes],
        "result": RESULT_FORM,
    }
    canonical = json.dumps(determinants, sort_keys=True, ensure_ascii=False, default=str)
    return f"{api_identity}#{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:12]}"


class ModelEditor:
    """An editor that asks an image-edit model, following the instruction (mode ``model``).

    Built once per run by `transcreate.wiring`, with everything it needs: ``gate`` takes a slot of
    a cross-process limit (a Prefect global concurrency limit) around each call, and
    ``input_links`` maps the SHA-256 of an input image to a link the provider may fetch it from
    (a presigned link to the creative in object storage) instead of an upload per call, and
    ``product_mask`` (image bytes, white or opaque where the product is) frames the base in an ad
    size around the product the user drew rather than the one saliency finds. ``logos`` reads a
    row's logo (by hash and location): a model that takes several images (`takes_references`)
    is sent it as the first, where it draws the copy; otherwise the compositor places it after.
    """

    def __init__(
        self,
        api: ModelAPI,
        settings: ModelSettings,
        *,
        gate: Gate | None = None,
        input_links: Mapping[str, str] | None = None,
        product_mask: bytes | None = None,
        logos: ReadImage | None = None,
    ):
        self.api = api
        self._logos = logos
        self._products: dict[str, ProductMask] = {}  # by image hash: drift and the logo read it
        self.settings = settings
        # What decides a model's answer (the result cache's key) and, with the mask that frames
        # its input in ad sizes, what decides an output (the job key): a new mask makes the
        # outputs again, but a call whose input it did not change is not paid for again.
        self.model_identity = model_identity(api.identity, settings)
        self.identity = self.model_identity
        if product_mask is not None:
            self.identity += "+mask-" + hashlib.sha256(product_mask).hexdigest()[:12]
        self._mask = product_mask
        slots = settings.max_concurrency
        self._slots: contextlib.AbstractContextManager[Any] = (
            threading.BoundedSemaphore(slots) if slots else contextlib.nullcontext()
        )
        self._cache = (
            ResultCache(settings.cache_dir, settings.cache_ttl) if settings.cache_dir else None
        )
        self.calls = 0  # model calls actually made by this editor (for summaries and benchmarks)
        self._links = dict(input_links or {})
        self.gate = gate
        self._count = threading.Lock()

    def edit(self, job: EditJob, image: bytes) -> Edited:
        """The model's edit of ``image``, at the size of ``image`` (see `fit_to_base`); for a job
        in an ad size, of the base reframed to that size first (`reframed_base`), so that the
        model draws the copy in the frame it will be seen in."""
        if job.size is None:
            edited = fit_to_base(self._result(job, image), upright_size(image))
            measured = self._drift(job, image, edited)
            edited, measured = self._placed_logo(job, edited, measured, image)
            if measured is None:
                return Edited(edited)
            return Edited(with_layout_record(edited, measured), measured)
        from transcreate.compose.reframe import (
            reframed_base,  # numpy and the layout load only for sizes
        )

        frame, reframe = reframed_base(image, job.size, job.frame_position, self._mask)
        edited = fit_to_base(self._result(job, encode_png(frame)), frame.size)
        layout: dict[str, Any] = {"reframe": reframe}  # in the PNG too, as the compositor's
        if reframe.get("product_box"):  # how much of the product the model changed (a verdict)
            layout["drift"] = round(drift(frame, edited, reframe["product_box"]), 4)
            layout["product_box"] = reframe["product_box"]
        edited, record = self._placed_logo(job, edited, layout)
        record = record or layout  # the frame's record, with the logo where there is one
        return Edited(with_layout_record(edited, record), record, frame=frame)

    @property
    def takes_references(self) -> bool:
        """Whether the model is sent a row's logo as an image of its own."""
        return getattr(self.api, "max_images", 1) > 1

    def _sends_logo(self, job: EditJob) -> bool:
        # only where it draws the copy: in model+overlay the compositor places the logo
        return bool(job.logo_sha256 and job.overlays and self.takes_references)

    def _placed_logo(
        self, job: EditJob, edited: bytes, record: dict[str, Any] | None, image: bytes = b""
    ) -> tuple[bytes, dict[str, Any] | None]:
        """A logo the model was not sent, placed by the compositor clear of the product and of
        the band the model was asked to draw copy in."""
        if not job.logo_sha256 or self._sends_logo(job):
            return edited, record
        from transcreate.compose.logo import with_logo
        from transcreate.images import decode
        from transcreate.quality import copy_region

        canvas = decode(edited)
        # in the base's own size, the product's cells (found for drift); a frame's, its box
        product = self._products.get(hashlib.sha256(image).hexdigest()) if image else None
        band = [copy_region(job.position, canvas.size)] if job.overlays else []
        placed, record = with_logo(canvas, job, self._logos, record, product, band)
        return encode_png(placed), record

    def _logo(self, job: EditJob) -> bytes:
        if self._logos is None or job.logo_sha256 is None:
            raise PermanentEditError("this editor was built without the run's images")
        return self._logos(job.logo_sha256, job.logo_source)

    def _drift(self, job: EditJob, image: bytes, edited: bytes) -> dict[str, Any] | None:
        """How much of the product the model changed in the base's own size (a verdict: more
        than ``compose.verdict.DRIFT_LIMIT`` sends the output to review), where the product is
        the user's mask or found in the image; the band it was asked to draw copy in (its
        overlays, in mode model) does not count."""
        from transcreate.compose.saliency import mask_from_image, product_mask
        from transcreate.images import decode
        from transcreate.quality import copy_region

        # Compared at about 256 px on the long side (a whole factor: Image.reduce, no filter to
        # run): all a box of the product and a share of it that changed need, in a fraction of
        # the time (the check runs on every paid edit, dozens a second on a catalog).
        base = decode(image)
        factor = max(1, max(base.size) // _DRIFT_SIDE)
        small = base.reduce(factor) if factor > 1 else base
        key = hashlib.sha256(image).hexdigest()
        if key not in self._products:  # found once per image: a row's locales and sizes share it
            # a coarse grid is all a box needs: a fifth of the time, and of the memory
            found = (
                mask_from_image(self._mask, small.size) if self._mask else product_mask(small, 48)
            )
            # the product in the base's pixels (the grid's cells scaled up with the image)
            self._products[key] = replace(found, cell=found.cell * factor, canvas=base.size)
            if len(self._products) > 256:
                self._products.pop(next(iter(self._products)))
        box = self._products[key].box
        if box is None:
            return None
        after = decode(edited)
        after = after.reduce(factor) if factor > 1 else after
        band = copy_region(job.position, small.size) if job.overlays else None
        scaled = [value // factor for value in box]
        measured = drift(small, after, scaled, ignore=band)
        return {"drift": round(measured, 4), "product_box": list(box)}

    def _result(self, job: EditJob, image: bytes) -> bytes:
        """The model's own result (its canvas), from the cache or from a call."""
        prepared = self._prepare(image)
        references = (self._prepare(self._logo(job)),) if self._sends_logo(job) else ()
        if self._cache is None:
            return self._call(prepared, job.instruction, references)
        identity = "+".join([self.model_identity, *(ref.sha256 for ref in references)])
        key = ResultCache.key(prepared, job.instruction, identity)
        with self._cache.lock(key):
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            result = self._call(prepared, job.instruction, references)
            self._cache.put(key, result)
            return result

    def _call(
        self, prepared: PreparedImage, instruction: str, references: tuple[PreparedImage, ...]
    ) -> bytes:
        with self._slots, self.gate() if self.gate else contextlib.nullcontext():
            with self._count:
                self.calls += 1
            if references:  # only an API with max_images > 1 is sent any
                raw = self.api.edit_image(prepared, instruction, references=references)  # type: ignore[call-arg]
            else:
                raw = self.api.edit_image(prepared, instruction)
        return result_png(raw, self.settings.provider)

    def _prepare(self, image: bytes) -> PreparedImage:
        prepared = prepared_once(image, self.settings.max_side, self.settings.max_upload_bytes)
        link = self._links.get(prepared.sha256)  # only when the prepared bytes are the original
        return replace(prepared, url=link) if link else prepared
