"""Expansion of a campaign into edit jobs: one per (variant, locale, size). Pure but templates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Any

from transcreate.campaign import COLORS, COPY_FIELDS, Campaign, Variant, logo_corner
from transcreate.errors import TemplateError
from transcreate.glossary import Glossary
from transcreate.instructions import InstructionRenderer, has_catalog, renderer_for
from transcreate.locales import (
    base_language,
    format_discount,
    format_end_date,
    format_price,
    is_right_to_left,
    language_name,
)
from transcreate.sizes import size_by_name


@dataclass(frozen=True)
class Overlay:
    """One piece of localized copy to set on the creative."""

    role: str  # headline | offer | ends | cta
    text: str
    color: str  # #RRGGBB
    #: glossary terms in ``text``, each set on one line (see ``transcreate.glossary``)
    keep: tuple[str, ...] = ()
    #: the role whose type this copy is set in, when not its own: the offer in the headline's
    #: when the offer leads (the row's ``lead`` column), the headline then in the offer's
    style: str | None = None

    def identity(self) -> list[object]:
        """What of the overlay decides an output (``keep`` and ``style`` only when set, so keys
        made before them stay as they were)."""
        extra: list[object] = []
        if self.keep or self.style:
            extra.append(list(self.keep))
        if self.style:
            extra.append(self.style)
        return [self.role, self.text, self.color, *extra]


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
    #: The variant's copy in every locale of the run (this one included), when the compositor sets
    #: the copy: it sizes the headline alike across them. Empty when a model draws the copy.
    siblings: tuple[tuple[str, tuple[Overlay, ...]], ...] = ()
    # Why the output needs a person's look although it was made as asked (not part of the key:
    # it does not change the image): the copy fell back to the default column. Starts with
    # FALLBACK_REASON, so a summary can count these.
    fallback: str | None = None
    #: Where each piece of copy came from, by field: "sheet", "machine" (a translation no one
    #: has approved yet) or "approved" (see ``transcreate.translation``); not part of the key
    copy_origin: tuple[tuple[str, str], ...] = ()
    #: Why the output needs a person's look for its machine copy (not part of the key either)
    machine: str | None = None
    #: The ad size the creative is reframed to (a preset's name or ``WxH``, see
    #: ``transcreate.sizes``); None: the base creative's own size.
    size: str | None = None
    #: Where the row's own image is (``transcreate.row_images``); None: the run's image. Not part
    #: of the key: ``image_sha256`` is what the output depends on.
    image_source: str | None = None
    #: The row's logo (``transcreate.row_images``): its hash is part of the key, its location is
    #: where an editor reads it from
    logo_sha256: str | None = None
    logo_source: str | None = None

    @property
    def frame_position(self) -> str:
        """The position an ad size is framed for: the job's, but a centred one is read from the
        right in a right-to-left locale, so in a wider frame the copy (read first) goes on the
        product's right, as it goes on its left in English."""
        vertical, _, horizontal = self.position.partition("-")
        if horizontal in ("left", "right") or not is_right_to_left(self.locale):
            return self.position
        return f"{vertical}-right"

    @cached_property
    def key(self) -> str:
        """Hash of all that determines the output image: equal keys mean an equal result."""
        determinants: dict[str, object] = {
            # The locale picks the fonts and line breaking of the local compositor.
            "locale": self.locale,
            "instruction": self.instruction,
            "overlays": [o.identity() for o in self.overlays],
            "position": self.position,
            "image": self.image_sha256,
            "backend": self.backend,
        }
        if self.logo_sha256:  # absent without one, so earlier keys stay as they were
            determinants["logo"] = self.logo_sha256
        if self.siblings:  # absent, not empty, so keys of model-drawn jobs stay as they were
            determinants["siblings"] = [
                [locale, [o.identity() for o in overlays]] for locale, overlays in self.siblings
            ]
        sized = size_by_name(self.size)
        if sized is not None:  # absent for the base's own size, so earlier keys stay as they were
            determinants["size"] = [sized.name, sized.width, sized.height]
        canonical = json.dumps(determinants, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


FALLBACK_REASON = "copy fell back"
#: The language a sheet's default copy columns (``headline``, ``cta``) are written in.
SOURCE_LOCALE = "en"


@dataclass(frozen=True)
class SkippedJob:
    """A (variant, locale) cell that gets no job, with the reason (for every size of the row)."""

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
    allow_fallback: bool = False,
    instruction_language: str = "locale",
    sizes: Sequence[str | None] = (None,),
    glossary: Glossary | None = None,
    outpaint: bool = False,
    routes: Callable[[str], tuple[str, str]] | None = None,
    logo_to_model: bool = False,
) -> Expansion:
    """Every variant × locale × size of the run as an edit job, or as a skipped cell with its
    reason. ``sizes`` names the run's sizes (None: the base's own); a row's `sizes` column wins.

    A job whose copy fell back from its locale's column (`headline:th`, left empty) to the
    default column carries the reason in ``fallback`` (its output is to be reviewed), unless the
    row's `fallback` column or ``allow_fallback`` says that is intended.

    ``instruction_language``: ``locale`` writes each instruction in its locale's language;
    another tag (``en``, ``zh``) writes every instruction in that language, with the copy still
    the locale's, quoted verbatim.

    ``glossary``: the campaign's terms; each one in a piece of copy is kept on one line.
    ``outpaint``: in mode model, a job in an ad size asks the model to extend the scene into the
    frame's new margins (its instruction says so).
    ``routes``: a locale's own (backend identity, mode) where they are not the run's (mode auto
    sets copy the model would misdraw with the compositor).
    ``logo_to_model``: the model takes a row's logo as an image of its own (else the compositor
    places it), so an instruction where the model draws the copy says where the logo goes.
    """
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
            job_backend, job_mode = routes(locale) if routes else (backend, mode)
            make = partial(
                _job, campaign.name, variant, locale, variant.image_sha256 or image_sha256,
                job_backend, job_mode,
                renderer(locale),
                renderer(locale if instruction_language == "locale" else instruction_language),
                logo_to_model=logo_to_model,
            )  # fmt: skip
            row_sizes = variant.sizes if variant.sizes is not None else sizes
            extend = outpaint and job_mode == "model" and any(size for size in row_sizes)
            try:
                job = make()
                extended = make(outpaint=True).instruction if extend else job.instruction
            except TemplateError as error:
                skipped.append(SkippedJob(variant.variant, locale, str(error)))
                continue
            if not (allow_fallback or variant.fallback):
                job = replace(job, fallback=_fallback(variant, locale))
            job = replace(job, **_origins(variant, locale, job))
            if glossary is not None and glossary.terms:
                job = replace(job, overlays=_with_terms(job.overlays, glossary, locale))
            jobs += [
                replace(job, size=size, instruction=extended if size else job.instruction)
                for size in dict.fromkeys(row_sizes)
            ]
    # Where the compositor sets the copy, each job sees its variant's other such locales.
    overlaid = {
        job.locale for job in jobs if (routes(job.locale)[1] if routes else mode) != "model"
    }
    jobs = _with_siblings(jobs, overlaid)
    return Expansion(tuple(jobs), tuple(skipped))


def _origins(variant: Variant, locale: str, job: EditJob) -> dict[str, Any]:
    """The job's copy_origin, and the review reason its unapproved machine copy gives."""
    fields = [name for name in COPY_FIELDS if variant.text(name, locale)]
    origins = {name: variant.origin(name, locale) for name in fields}
    machine = [name for name, (origin, _) in origins.items() if origin == "machine"]
    problems = [problem for _, problem in origins.values() if problem]
    reasons = []
    if machine:
        named = " and ".join(_FIELD_NAMES.get(name, name) for name in machine)
        reasons.append(
            f"machine copy: row {variant.row}'s {language_name(locale)} {named} "
            f"{'is a machine translation' if len(machine) == 1 else 'are machine translations'} "
            "no one has approved yet: approve or correct them before it ships (in the desk's "
            "review, or in translations.csv given back with --translations)"
        )
    reasons += problems
    return {
        "copy_origin": tuple((name, origin) for name, (origin, _) in origins.items()),
        "machine": "; ".join(reasons) or None,
    }


_FIELD_NAMES = {"headline": "headline", "cta": "button"}


def _with_terms(
    overlays: tuple[Overlay, ...], glossary: Glossary, locale: str
) -> tuple[Overlay, ...]:
    return tuple(replace(o, keep=glossary.kept_in(o.text, locale)) for o in overlays)


def _with_siblings(jobs: list[EditJob], locales: set[str]) -> list[EditJob]:
    """Each job with the copy of the variant's other locales in its size and at its position
    (as framed): they agree on one look. A right-to-left locale makes its own group (its
    look is the others' in a mirror, not theirs)."""
    copies: dict[tuple[str, str | None, str], list[tuple[str, tuple[Overlay, ...]]]] = {}
    for job in jobs:
        if job.locale in locales:
            key = (job.variant, job.size, job.frame_position)
            copies.setdefault(key, []).append((job.locale, job.overlays))
    return [
        replace(job, siblings=tuple(copies[job.variant, job.size, job.frame_position]))
        if job.locale in locales
        else job
        for job in jobs
    ]


def _fallback(variant: Variant, locale: str, source: str = SOURCE_LOCALE) -> str | None:
    """Why the locale's creative carries words that are not its language's, or None: copy from
    the default column (written in ``source``'s language) where the locale has none of its own,
    or the built-in wording ("Only", "Ends", "off") where the locale has no catalog."""
    same = base_language(locale) == base_language(source)
    fell = [
        field_name
        for field_name in COPY_FIELDS
        if variant.copy.get(field_name, {}).get("")
        and not variant.copy.get(field_name, {}).get(locale)
        and (f"{field_name}:{locale}" in variant.empty_copy or not same)
    ]
    if not fell:
        if same or has_catalog(locale) or not (variant.prices or variant.discount or variant.ends):
            return None
        return (
            f"{FALLBACK_REASON}: there is no {language_name(locale)} wording for the offer and "
            f"the end date (only English), so row {variant.row}'s {locale} creative says "
            f"'Only', 'off' or 'Ends' in English; add a catalog in locales/{locale} (README: "
            "Instructions, locales and translations)"
        )
    if not any(f"{field_name}:{locale}" in variant.empty_copy for field_name in fell):
        columns = ", ".join(f"{field_name}:{locale}" for field_name in fell)
        return (
            f"{FALLBACK_REASON}: no {language_name(locale)} copy — row {variant.row} has no "
            f"{columns}, so its {language_name(source)} copy is on the {locale} creative; add "
            f"{columns} to the sheet, or write yes in the row's fallback column if that copy is "
            "meant"
        )
    columns = ", ".join(f"{field_name}:{locale}" for field_name in fell)
    defaults = ", ".join(repr(variant.copy[field_name][""]) for field_name in fell)
    return (
        f"{FALLBACK_REASON}: row {variant.row} leaves {columns} empty, so the default "
        f"{'/'.join(fell)} copy {defaults} is on the {locale} creative; fill {columns}, or "
        "write yes in the row's fallback column if that copy is meant"
    )


def _job(
    campaign: str,
    variant: Variant,
    locale: str,
    image_sha256: str,
    backend: str,
    mode: str,
    renderer: InstructionRenderer,
    instruction_renderer: InstructionRenderer,
    *,
    outpaint: bool = False,
    logo_to_model: bool = False,
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
        "position": variant.position_for(locale),
        "locale": locale,
        "mode": mode,
        "lead": variant.lead,
        "outpaint": outpaint,
        "edit": variant.edit_for(locale),
        # where the model puts the row's logo, when it is sent one and draws the copy
        "logo": logo_corner(variant.position_for(locale), is_right_to_left(locale))
        if variant.logo_sha256 and logo_to_model and mode == "model"
        else None,
    }
    # The copy (offer and end-date lines included) is the locale's; the wording around it, colour
    # and position names included, is the instruction language's.
    instruction = instruction_renderer.render(variant.template, context)
    color = COLORS.get(variant.color, variant.color)
    # The offer leads: it takes the headline's type, and the headline the offer's.
    styles = {"headline": "offer", "offer": "headline"} if variant.lead == "offer" and offer else {}
    overlays = tuple(
        Overlay(role, text, color, style=styles.get(role))
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
        position=variant.position_for(locale),
        image_sha256=image_sha256,
        backend=backend,
        image_source=variant.image if variant.image_sha256 else None,
        logo_sha256=variant.logo_sha256,
        logo_source=variant.logo if variant.logo_sha256 else None,
    )
