"""The built-in editor: sets the localized copy on the creative with Pillow. No GPU, no network."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import Any, NamedTuple, TypeVar

from PIL import Image

from transcreate import compose
from transcreate.compose.blocks import TextBlock
from transcreate.compose.faces import with_people
from transcreate.compose.fonts import check_text_support
from transcreate.compose.logo import with_logo
from transcreate.compose.look import SPREAD, Fit, best_fit, common_scale, variant_look
from transcreate.compose.record import encode_png
from transcreate.compose.reframe import DROP_ORDER, Reframed, copy_layout, reframe
from transcreate.compose.saliency import ProductMask, mask_from_image, product_mask
from transcreate.compose.typeset import LAYOUTS, Layout, decide, paint
from transcreate.editors import Edited
from transcreate.errors import PermanentEditError, SetupError, TypesettingError
from transcreate.images import decode
from transcreate.jobs import EditJob, Overlay
from transcreate.sizes import size_by_name

_CACHED_PRODUCTS = 8  # base images (× sizes) whose product region is kept
T = TypeVar("T")
_AGREEMENT_ROUNDS = 3  # a set agrees in one round but for a rare locale that then goes smaller
_CACHED_FITS = 4096  # (variant copy, locale) whose fit alone is kept for its siblings


class Decided(NamedTuple):
    """A job's layout, decided: the canvas the copy goes on and where it goes on it."""

    canvas: Image.Image  # the base, or its frame in the job's ad size
    layout: Layout
    framed: bool  # the canvas is the base reframed to the job's ad size


def _blocks(overlays: tuple[Overlay, ...]) -> list[TextBlock]:
    return [TextBlock(o.role, o.text, o.color, o.keep, o.style) for o in overlays]


def _agree(
    copies: dict[str, tuple[Overlay, ...]], lay_out: Callable[..., Layout], common: float | None
) -> dict[str, Layout]:
    """Each locale's layout of one variant in one frame, agreed: every locale lays out its own
    copy, then those that keep a role another drops, or set their headline above the cap
    (``common``, and SPREAD times the smallest), are laid out again without it, no larger. A
    layout done again may drop more or go smaller, so the check repeats until all agree."""
    agreed = {
        locale: lay_out(_blocks(overlays), locale=locale) for locale, overlays in copies.items()
    }
    for _ in range(_AGREEMENT_ROUNDS):
        everyone = _dropped_by_any(agreed.values())
        scales = [scale for layout in agreed.values() if (scale := layout.record.get("scale"))]
        caps = [cap for cap in (common, SPREAD * min(scales) if scales else None) if cap]
        cap = min(caps) if caps else None
        again = [
            locale
            for locale, layout in agreed.items()
            if set(layout.record.get("dropped", [])) != set(everyone)
            or (cap is not None and (layout.record.get("scale") or 0.0) > cap + 1e-9)
        ]
        if not again:
            break
        for locale in again:
            kept = [block for block in _blocks(copies[locale]) if block.role not in everyone]
            layout = lay_out(kept, locale=locale, common=cap)
            dropped = [*everyone, *layout.record.get("dropped", [])]
            layout.record["dropped"] = list(dict.fromkeys(dropped))
            agreed[locale] = layout
    return agreed


def _dropped_by_any(layouts: Iterable[Layout]) -> list[str]:
    """The roles any of a variant's locales drops in a size, in the order they go."""
    dropped = {role for layout in layouts for role in layout.record.get("dropped", [])}
    return [role for role in DROP_ORDER if role in dropped]


class LocalEditor:
    """Deterministic compositor: the same job and image always give the same PNG bytes.

    ``layout``: "auto" keeps the copy off the product (found by saliency, or ``mask``: image bytes,
    white or opaque where the product is, stretched to each creative) and sizes a variant's
    headline alike in all its locales; "exact" sets the copy exactly at its position, as before.
    The PNG carries the layout used (``transcreate.compose.record.read_layout``).
    """

    def __init__(
        self,
        layout: str = "auto",
        mask: bytes | None = None,
        logos: Callable[[str, str | None], bytes] | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise SetupError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
        check_text_support()  # fail at start-up, not on the first Thai job
        if mask is not None:
            mask_from_image(mask, (8, 8))  # an unreadable mask fails now, not on every job
        self.layout = layout
        self.mask = mask
        self.logos = logos  # reads a row's logo by (hash, location): RowImages.data
        # The compositor's version (bumped when pixels change), the layout and the mask decide
        # the outputs.
        identity = f"local/{compose.VERSION}" + ("" if layout == "auto" else "+exact")
        if mask is not None:
            identity += "+mask-" + hashlib.sha256(mask).hexdigest()[:12]
        self.identity = identity
        self._lock = threading.Lock()
        self._making: dict[tuple[int, Any], threading.Event] = {}  # keys being made, by cache
        self._products: dict[tuple[str, tuple[int, int]], ProductMask] = {}
        self._fits: dict[tuple[Any, ...], Fit | None] = {}
        self._looks: dict[tuple[Any, ...], tuple[str, str] | None] = {}
        self._frames: dict[tuple[str, tuple[int, int], str], Reframed] = {}
        self._agreements: dict[tuple[Any, ...], dict[str, Layout]] = {}

    def _kept(self, cache: dict[Any, T], key: Any, limit: int, make: Callable[[], T]) -> T:
        """``cache[key]``, made once when it is not there yet: outside the lock (other jobs go
        on), and a job that needs the same key meanwhile waits for it instead of making it
        again (a variant's locales start together, each wanting the same layouts: made four
        times over, they took the demo 15 s instead of 6). The oldest entry goes when the cache
        holds ``limit``."""
        flight = (id(cache), key)
        while True:
            with self._lock:
                if key in cache:
                    return cache[key]
                making = self._making.get(flight)
                if making is None:
                    making = self._making[flight] = threading.Event()
                    break
            making.wait()  # made by another job: found in the cache (or made here if it failed)
        try:
            made = make()
            with self._lock:
                if len(cache) >= limit:
                    cache.pop(next(iter(cache)))
                cache[key] = made
            return made
        finally:
            with self._lock:
                del self._making[flight]
            making.set()

    def _product(self, image_key: str, base: Image.Image) -> ProductMask:
        return self._kept(
            self._products,
            (image_key, base.size),
            _CACHED_PRODUCTS,
            lambda: with_people(
                mask_from_image(self.mask, base.size)
                if self.mask is not None
                else product_mask(base),
                base,
            ),
        )

    def _variant(
        self,
        job: EditJob,
        image_key: str,
        base: Image.Image,
        product: ProductMask,
        area: tuple[int, int, int, int] | None = None,
    ) -> tuple[float, list[Fit | None]]:
        """The headline scale the variant's locales share, and where each locale's copy goes
        alone: a pure function of its copy in every locale, so jobs edited apart (other
        threads, other machines) agree."""
        fits = [
            self._kept(
                self._fits,
                (image_key, base.size, job.position, locale, overlays),
                _CACHED_FITS,
                partial(
                    best_fit, _blocks(overlays), job.position, base.size, locale, product, area
                ),
            )
            for locale, overlays in job.siblings
        ]
        return common_scale(fit.scale if fit is not None else None for fit in fits), fits

    def _look(
        self,
        job: EditJob,
        image_key: str,
        base: Image.Image,
        product: ProductMask,
        area: tuple[int, int, int, int] | None = None,
    ) -> tuple[float, tuple[str, str] | None]:
        """The shared scale and the look (zone, arrangement) the variant's locales share."""
        common, fits = self._variant(job, image_key, base, product, area)
        copies = [
            (_blocks(overlays), locale, fit)
            for (locale, overlays), fit in zip(job.siblings, fits, strict=True)
        ]
        look = self._kept(
            self._looks,
            (image_key, base.size, job.position, job.siblings),
            _CACHED_FITS,
            lambda: variant_look(copies, job.position, base.size, product, common, area),
        )
        return common, look

    def _reframed(self, job: EditJob, image: bytes, base: Image.Image) -> Reframed | None:
        """The base reframed to the job's size (None: its own size), kept for the job's other
        locales."""
        size = size_by_name(job.size)
        if size is None:
            return None
        image_key = hashlib.sha256(image).hexdigest()
        # The product leaves the copy's side the most room: one frame per size and position.
        return self._kept(
            self._frames,
            (image_key, size.pixels, job.frame_position),
            _CACHED_PRODUCTS,
            lambda: reframe(
                base,
                size.pixels,
                self._product(image_key, base),
                job.frame_position,
                size.safe_zone,
            ),
        )

    def _agreed(
        self, job: EditJob, frame_key: str, lay_out: Callable[..., Layout], common: float | None
    ) -> Layout:
        """The job's layout as its variant's locales agree on it in this frame: what one locale
        must drop, all drop, and no headline is more than SPREAD times another locale's. The
        set is decided once per variant and frame, for all its locales (kept for the other jobs),
        so every job reads the same agreement."""
        # The job's own copy stands for its locale (the same as its siblings' entry in a run).
        copies = {**dict(job.siblings), job.locale: job.overlays}
        agreed = self._kept(
            self._agreements,
            (frame_key, job.position, tuple(copies.items())),
            _CACHED_FITS,
            lambda: _agree(copies, lay_out, common),
        )
        return agreed[job.locale]

    def edit(self, job: EditJob, image: bytes) -> Edited:
        decided = self.decide(job, image)
        size = size_by_name(job.size)
        limit = size.max_bytes if size is not None else None
        painted, record = paint(decided.canvas, decided.layout), decided.layout.record
        if job.logo_sha256:  # the product's cells found on the canvas before the copy
            product = product_mask(decided.canvas, 48)  # (a coarse grid is enough)
            painted, record = with_logo(painted, job, self.logos, record, product)
        png = encode_png(painted, record, limit)
        frame = decided.canvas if decided.framed else None
        return Edited(png, record, frame=frame)

    def decide(self, job: EditJob, image: bytes) -> Decided:
        """The layout of the job's copy, decided without painting (`edit` paints it), on the
        canvas it goes on: the base, or the base reframed to the job's ad size."""
        common: float | None  # the headline scale the variant's locales share
        try:
            base = decode(image)
            framed = self._reframed(job, image, base)
            if framed is not None:  # the layout rules apply to the new frame, product first
                auto = self.layout == "auto"
                product = framed.product if auto else None
                lay_out = partial(
                    copy_layout,
                    framed.image,
                    position=job.position,
                    product=product,
                    layout=self.layout,
                    area=framed.area if auto else None,
                )
                if auto and product is not None and job.siblings:
                    framing = f"{job.size}@{job.frame_position}"  # each reading its own frame
                    frame_key = f"{hashlib.sha256(image).hexdigest()}@{framing}"
                    common, look = self._look(job, frame_key, framed.image, product, framed.area)
                    lay_out = partial(lay_out, common=common, look=look)
                    layout = self._agreed(job, frame_key, lay_out, common)
                else:
                    layout = lay_out(_blocks(job.overlays), locale=job.locale, common=None)
                sized = size_by_name(job.size)
                placement = sized.use if sized is not None and sized.use else None
                record = {**layout.record, "reframe": framed.record, "placement": placement}
                return Decided(framed.image, replace(layout, record=record), framed=True)
            if self.layout == "exact":
                layout = decide(
                    base, _blocks(job.overlays), job.position, job.locale, layout="exact"
                )
                return Decided(base, layout, framed=False)
            image_key = hashlib.sha256(image).hexdigest()
            product = self._product(image_key, base)
            common, look = (
                self._look(job, image_key, base, product) if job.siblings else (None, None)
            )
            # The base's own size follows the rules of every other: a line it cannot set at a
            # size that reads goes (for all its locales) before the rest goes small.
            lay_out = partial(
                copy_layout, base, position=job.position, product=product, common=common,
                look=look,
            )  # fmt: skip
            if job.siblings:
                return Decided(base, self._agreed(job, image_key, lay_out, common), framed=False)
            layout = lay_out(_blocks(job.overlays), locale=job.locale)
            return Decided(base, layout, framed=False)
        except TypesettingError as error:
            raise PermanentEditError(
                f"variant {job.variant}, locale {job.locale}: {error}"
            ) from None
