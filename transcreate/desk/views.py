"""What the desk's pages show: the campaigns, a campaign's choices (languages by name, sizes
by shape), its creatives by size with their copy, and the zip of them."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from transcreate.desk.share import DAYS
from transcreate.desk.store import Desk, DeskCampaign, Preview
from transcreate.errors import CampaignError
from transcreate.jobs import SOURCE_LOCALE
from transcreate.locales import DEFAULT_LOCALES, SUPPORTED_LOCALES, language_name
from transcreate.manifest import copy_of
from transcreate.sizes import BASE, PRESETS, parse_size
from transcreate.translation.sheet import read_translations

#: The display banners the desk offers beside the presets (any IAB unit can be typed in a sheet).
DISPLAY_UNITS = ("300x250", "728x90", "320x50", "160x600")


def home_context(desk: Desk) -> dict[str, Any]:
    return {"campaigns": desk.campaigns(), "problem": None, "rows": ""}


def _written(preview: Preview) -> list[str]:
    """The offered languages the sheet writes its own copy for (headline:ar, cta:ja …, and
    English for the bare columns): what a manager who wrote them means to make, until they
    choose otherwise."""
    if preview.campaign is None:
        return []
    written = {
        locale or SOURCE_LOCALE  # the bare column: the sheet's own language
        for variant in preview.campaign.variants
        for cells in variant.copy.values()
        for locale in cells
    }
    if written <= {SOURCE_LOCALE}:
        return []  # no market of its own: the first markets, as a run makes by default
    return [tag for tag in SUPPORTED_LOCALES if tag in written]


def campaign_context(desk: Desk, campaign: DeskCampaign) -> dict[str, Any]:
    preview = desk.preview(campaign)
    chosen_locales = campaign.locales or _written(preview) or list(DEFAULT_LOCALES)
    return {
        "campaign": campaign,
        "preview": preview,
        "sheet_text": desk.sheet_text(campaign),
        "locales": [(tag, language_name(tag), tag in chosen_locales) for tag in SUPPORTED_LOCALES],
        "sizes": size_choices(campaign.sizes or [BASE]),
        "gallery": gallery(desk, campaign),
        "not_made": not_made(desk, campaign),
        "problem": None,
        "share": None,
        "days": DAYS,
        "settings": {
            "backend": (
                ("local", "built-in editor (no model, no key)"),
                ("dashscope", "Alibaba DashScope"),
                ("dify", "a Dify workflow"),
                ("openai", "an OpenAI-compatible endpoint"),
            ),
            "mode": (
                ("auto", "auto"),
                ("overlay", "overlay: the editor sets the copy"),
                ("model", "model: the model draws the copy"),
                ("model+overlay", "model+overlay: the model edits, the editor sets the copy"),
            ),
            "layout": (
                ("auto", "auto: off the product"),
                ("exact", "exact: at the row's position"),
            ),
        },
        "options": campaign.options,
    }


def size_choices(chosen: list[str]) -> list[dict[str, Any]]:
    """Each size with a small picture of its shape (width and height of a box in a 48 px cell)."""
    choices = [{"name": BASE, "label": "Original size", "w": 40, "h": 40, "use": "the image as is"}]
    for name in [*PRESETS, *DISPLAY_UNITS]:
        size = parse_size(name)
        assert size is not None  # a preset or a unit, never the base
        scale = 44 / max(size.width, size.height)
        choices.append(
            {
                "name": name,
                "label": f"{name} · {size.width}×{size.height}",
                "w": max(4, round(size.width * scale)),
                "h": max(4, round(size.height * scale)),
                "use": size.use or "",
            }
        )
    for choice in choices:
        choice["checked"] = choice["name"] in chosen
    return choices


def manifest_jobs(desk: Desk, campaign: DeskCampaign) -> list[dict[str, Any]]:
    path = desk.output(campaign) / "manifest.json"
    try:
        jobs: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return jobs


def gallery(desk: Desk, campaign: DeskCampaign, files: str = "") -> list[dict[str, Any]]:
    """The made creatives by size: each with its file, locale and the copy it carries.
    ``files``: where a share page serves the campaign's files (its images' addresses start
    there, relative to the campaign's folder); the root's own addresses otherwise."""
    groups: dict[str, list[dict[str, Any]]] = {}
    sources = translated_from(desk, campaign)
    for job in manifest_jobs(desk, campaign):
        uri = str(job.get("uri") or "")
        if not uri.startswith("file://"):
            continue
        file = Path(uri.removeprefix("file://"))
        base = desk.output(campaign) if files else desk.root
        try:
            relative = file.resolve().relative_to(base.resolve())
        except (OSError, ValueError):
            continue
        copy = copy_of(job.get("layout"))
        texts, locale = dict(copy), str(job.get("locale"))
        groups.setdefault(job.get("size") or BASE, []).append(
            {
                "key": str(job.get("key") or ""),
                "anchor": str(job.get("key") or "")[:12],
                "decision": campaign.decisions.get(str(job.get("key") or "")),
                "headline": texts.get("headline", ""),
                "cta": texts.get("cta", ""),
                "src": (files or "") + "/" + relative.as_posix(),
                "variant": job.get("variant"),
                "locale": language_name(locale),
                "status": job.get("status"),
                "reason": job.get("error"),
                "copy": copy,
                # machine or approved copy: what it was translated from, beside it
                "sources": {
                    role: (sources.get((str(job.get("variant")), role, locale), ""), origin)
                    for role, origin in (job.get("copy_origin") or {}).items()
                    if origin != "sheet"
                },
            }
        )
    return [{"size": size, "items": items} for size, items in groups.items()]


def not_made(desk: Desk, campaign: DeskCampaign) -> list[dict[str, Any]]:
    """What the last run did not make, and why: one line per variant and reason, its locales
    together (a row whose image link is dead is skipped in every language)."""
    lines: dict[tuple[str, str, str], list[str]] = {}
    for job in manifest_jobs(desk, campaign):
        if job.get("uri") or job.get("status") not in ("failed", "blocked", "skipped"):
            continue
        key = (str(job.get("variant")), str(job["status"]), str(job.get("error") or ""))
        lines.setdefault(key, []).append(language_name(str(job.get("locale"))))
    return [
        {"variant": variant, "status": status, "reason": reason, "locales": ", ".join(locales)}
        for (variant, status, reason), locales in lines.items()
    ]


def translated_from(desk: Desk, campaign: DeskCampaign) -> dict[tuple[str, str, str], str]:
    """(variant, field, locale) → the source text, from the run's translations.csv."""
    path = desk.output(campaign) / "translations.csv"
    try:
        written = read_translations(path.read_bytes(), path.name)
    except (OSError, CampaignError):
        return {}
    return {key: source for key, (source, _) in written.items()}


def zip_of(desk: Desk, campaign: DeskCampaign, size: str | None) -> Path | None:
    """A zip of the campaign's creatives (of one size, or all) and its manifest, on disk."""
    jobs = manifest_jobs(desk, campaign)
    made = []
    for job in jobs:
        uri = str(job.get("uri") or "")
        if not uri.startswith("file://") or (size and (job.get("size") or BASE) != size):
            continue
        file = Path(uri.removeprefix("file://"))
        if file.is_file() and file.resolve().is_relative_to(desk.root.resolve()):
            made.append(file)
    if not made:
        return None
    with (
        tempfile.NamedTemporaryFile(prefix="desk-", suffix=".zip", delete=False) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive,
    ):
        output = desk.output(campaign)
        for file in made:  # PNGs are compressed already
            archive.write(file, file.relative_to(output).as_posix())
        for extra in ("manifest.csv", "manifest.json"):
            if (output / extra).is_file():
                archive.write(output / extra, extra)
    return Path(handle.name)
