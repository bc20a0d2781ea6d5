"""Expansion of a campaign into edit jobs: one per (variant, locale). Pure: no I/O but templates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from transcreate.campaign import COLORS, Campaign, Variant
from transcreate.errors import TemplateError
from transcreate.instructions import InstructionRenderer, renderer_for
from transcreate.locales import format_discount, format_end_date, format_price


@dataclass(frozen=True)
class Overlay:
    """One piece of localized copy to set on the creative."""

    role: str  # headline | offer | ends | cta
    text: str
    color: str  # #RRGGBB


@dataclass(frozen=True)
class EditJob:
    """Everything needed to make one localized creative, and nothing that is not."""

    campaign: str
    variant: str
    locale: str
    template: str
    instruction: str
    overlays: tuple[Overlay, ...]
    position: str
    image_sha256: str
    backend: str  # the editor's identity, e.g. "local/1" or "dashscope/qwen-image-edit-plus"

    @cached_property
    def key(self) -> str:
        """Hash of all that determines the output image: equal keys mean an equal result."""
        determinants = {
            # The locale picks the fonts and line breaking of the local compositor.
            "locale": self.locale,
            "instruction": self.instruction,
            "overlays": [[o.role, o.text, o.color] for o in self.overlays],
            "position": self.position,
            "image": self.image_sha256,
            "backend": self.backend,
        }
        canonical = json.dumps(determinants, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SkippedJob:
    """A (variant, locale) cell that gets no job, with the reason."""

    variant: str
    locale: str
    reason: str


@dataclass(frozen=True)
class Expansion:
    jobs: tuple[EditJob, ...]
    skipped: tuple[SkippedJob, ...]


def expand(
    campaign: Campaign,
    locales: Sequence[str],
    *,
    image_sha256: str,
    backend: str,
    mode: str = "overlay",
    renderer: Callable[[str], InstructionRenderer] = renderer_for,
    instruction_language: str = "locale",
) -> Expansion:
    """Every variant × locale of the run as an edit job, or as a skipped cell with its reason.

    ``instruction_language``: ``locale`` writes each instruction in its locale's language;
    another tag (``en``, ``zh``) writes every instruction in that language, with the copy still
    the locale's, quoted verbatim."""
    jobs: list[EditJob] = []
    skipped: list[SkippedJob] = []
    for variant in campaign.variants:
        for locale in locales:
            if variant.locales is not None and locale not in variant.locales:
                reason = f"row {variant.row} asks only for {', '.join(variant.locales)}"
                skipped.append(SkippedJob(variant.variant, locale, reason))
                continue
            headline = variant.text("headline", locale)
            if headline is None:
                reason = (
                    f"row {variant.row} has no headline for {locale}: fill 'headline:{locale}' "
                    "or the default 'headline' column"
                )
                skipped.append(SkippedJob(variant.variant, locale, reason))
                continue
            try:
                jobs.append(
                    _job(
                        campaign.name,
                        variant,
                        locale,
                        image_sha256,
                        backend,
                        mode,
                        renderer(locale),
                        renderer(
                            locale if instruction_language == "locale" else instruction_language
                        ),
                    )
                )
            except TemplateError as error:
                skipped.append(SkippedJob(variant.variant, locale, str(error)))
    return Expansion(tuple(jobs), tuple(skipped))


def _job(
    campaign: str,
    variant: Variant,
    locale: str,
    image_sha256: str,
    backend: str,
    mode: str,
    renderer: InstructionRenderer,
    instruction_renderer: InstructionRenderer,
) -> EditJob:
    amount_and_currency = variant.price(locale)
    price = format_price(*amount_and_currency, locale) if amount_and_currency else None
    discount = format_discount(variant.discount, locale) if variant.discount is not None else None
    offer = renderer.vocabulary("offer", price, discount) or None
    ends = (
        renderer.vocabulary("ends", format_end_date(variant.ends, locale)) if variant.ends else None
    )
    headline = variant.text("headline", locale) or ""
    cta = variant.text("cta", locale)
    context = {
        "headline": headline,
        "cta": cta,
        "offer": offer,
        "ends": ends,
        "price": price,
        "discount": discount,
        "color": variant.color,
        "position": variant.position,
        "locale": locale,
        "mode": mode,
    }
    # The copy (offer and end-date lines included) is the locale's; the wording around it, colour
    # and position names included, is the instruction language's.
    instruction = instruction_renderer.render(variant.template, context)
    color = COLORS.get(variant.color, variant.color)
    overlays = tuple(
        Overlay(role, text, color)
        for role, text in (("headline", headline), ("offer", offer), ("ends", ends), ("cta", cta))
        if text
    )
    return EditJob(
        campaign=campaign,
        variant=variant.variant,
        locale=locale,
        template=variant.template,
        instruction=instruction,
        overlays=overlays,
        position=variant.position,
        image_sha256=image_sha256,
        backend=backend,
    )
