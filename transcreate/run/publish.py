"""Publish a run: the manifest (the locale × variant matrix and every job's record), the gallery
page, the audit lines not yet written, and — after a review — the outputs copied from staging to
their destination."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from transcreate import __version__
from transcreate.compose.verdict import layout_problems
from transcreate.gallery import gallery_html, native_name
from transcreate.locales import language_name
from transcreate.manifest import (
    DONE_STATUSES,
    STORED_STATUSES,
    JobResult,
    audit_lines,
    count_by_status,
    matrix,
    matrix_csv,
    records_json,
)
from transcreate.request import RunRequest
from transcreate.run.plan import RunPlan, run_sizes
from transcreate.run.sheet import page_name, sheet_pages
from transcreate.storage import Storage, object_key, output_key
from transcreate.storage.local import LocalStorage


class RunSummary(BaseModel):
    """The small result of a run: counts, where the manifest is, and what went wrong."""

    campaign: str
    counts: dict[str, int]
    manifest_csv: str
    manifest_json: str
    gallery: str = ""  # the gallery page (index.html): a link a browser opens where there is one
    problems: list[str] = Field(default_factory=list)  # rejected rows
    failures: list[str] = Field(default_factory=list)  # failed jobs
    flagged: list[str] = Field(default_factory=list)  # blocked jobs and outputs to review
    warnings: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    published: bool = True  # False when a reviewer rejected the run: nothing reached `out`
    #: on a model backend, the paid model calls the run planned at most (before any edit)
    planned_calls: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.published and not (self.problems or self.failures or self.flagged)


def write_manifest(
    plan: RunPlan, results: Sequence[JobResult], storage: Storage, seconds: float
) -> RunSummary:
    """Write manifest.csv (the matrix) and manifest.json (every job) beside the outputs."""
    order = {variant: index for index, variant in enumerate(plan.variants)}  # not a list scan
    results = _with_earlier_records(results, plan.earlier)
    sizes = run_sizes(plan, results)
    rank = {size: index for index, size in enumerate(sizes)}
    everything = sorted(
        [*results, *plan.settled],
        key=lambda r: (order.get(r.variant, len(order)), rank.get(r.size, -1), r.locale),
    )
    locales = list(plan.request.locales)
    variants = plan.variants
    table = matrix(everything, variants, locales, sizes)
    run_info = {
        "campaign": plan.campaign.name,
        "source": plan.campaign.source,
        "image": plan.creative.name if plan.creative else "",  # "": each row's own
        "image_sha256": plan.creative.sha256 if plan.creative else "",
        "locales": locales,
        "sizes": [size or "base" for size in sizes],
        "backend": plan.request.backend,
        "mode": plan.request.effective_mode,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "run": plan.run_id,
        "transcreate": __version__,
        "policy_version": plan.policy[0],
        "policy_digest": plan.policy[1],  # a re-run under the same one need not check again
    }
    csv_uri = storage.put(
        object_key(plan.campaign.name, "manifest.csv"),
        matrix_csv(table, locales),
        "text/csv; charset=utf-8",
    )
    json_uri = storage.put(
        object_key(plan.campaign.name, "manifest.json"),
        records_json(everything, run_info),
        "application/json",
    )
    gallery = write_gallery(plan, everything, storage, run_info)
    # Calls a durable AuditLog did not write as they happened (a caller that passed none) are
    # appended now; one log per run, so runs never overwrite each other's record.
    audit = audit_lines(results, plan.run_id)
    if audit:
        storage.append(object_key(plan.campaign.name, "audit", f"{plan.run_id}.jsonl"), audit)
    return RunSummary(
        campaign=plan.campaign.name,
        counts=count_by_status(everything),
        manifest_csv=csv_uri,
        manifest_json=json_uri,
        gallery=gallery,
        problems=[str(problem) for problem in plan.campaign.problems],
        failures=[r.error or f"{r.variant}/{r.locale}" for r in results if r.status == "failed"],
        flagged=[
            f"{r.variant}/{r.locale} {r.status}: {r.error}"
            for r in everything
            if r.status in ("blocked", "needs_review")
        ],
        warnings=[*plan.campaign.warnings, *_script_warnings(plan.request)],
        seconds=round(seconds, 3),
    )


def _with_earlier_records(
    results: Sequence[JobResult], earlier: Mapping[tuple[str, str, str | None, str], dict[str, Any]]
) -> Sequence[JobResult]:
    """Outputs found stored keep the layout and reframe records the run that made them wrote in
    the manifest (read once at planning), not one read of every stored image."""
    carried = []
    for result in results:
        unknown = result.layout is None or (result.size is not None and result.reframe is None)
        record = earlier.get((result.variant, result.locale, result.size, result.key or ""))
        if record is not None and unknown and result.status in STORED_STATUSES:
            result = replace(
                result,
                layout=result.layout or record.get("layout"),
                reframe=result.reframe or record.get("reframe"),
            )
        problems = layout_problems(result.layout) if result.status == "cached" else []
        if problems:  # as the run that made it judged it: stored is not shippable
            result = replace(result, status="needs_review", error="; ".join(problems))
        carried.append(result)
    return carried


def _script_warnings(request: RunRequest) -> list[str]:
    """In mode ``model`` the model draws the copy: say where it may draw it wrong; in mode auto,
    say why the compositor sets it."""
    risky = request.misdrawn_locales
    named = ", ".join(f"{tag} ({language_name(tag)})" for tag in risky)
    if request.mode == "auto" and request.backend != "local" and risky:
        return [
            f"mode auto: the built-in compositor sets the copy of {named} (model+overlay: the "
            f"model edits the scene, the compositor sets the words), because Qwen-Image-Edit "
            f"draws only Latin and Chinese text reliably; --mode model has the model draw it"
        ]
    if request.effective_mode != "model" or not risky:
        return []
    return [
        f"in mode model the model draws the copy, and Qwen-Image-Edit draws only Latin and Chinese "
        f"text reliably: check {named} by eye, or use --mode model+overlay, which sets the copy "
        "exactly"
    ]


def write_gallery(
    plan: RunPlan, results: Sequence[JobResult], storage: Storage, run_info: dict[str, Any]
) -> str:
    """Store ``index.html`` beside the manifest; returns its link.

    In a local folder the page links its images relatively, so it opens from the folder and over
    `transcreate serve` alike; elsewhere (S3) with each output's own link, presigned or public.
    """
    campaign = plan.campaign.name
    relative = isinstance(storage, LocalStorage)

    def link(key: str) -> str:
        return quote(key.split("/", 1)[1]) if relative else storage.url(key)

    def image_link(result: JobResult) -> str | None:
        if not relative or not result.key:
            return result.link
        return link(output_key(campaign, result.locale, result.variant, result.key, result.size))

    files = {name: object_key(campaign, name) for name in ("manifest.csv", "manifest.json")}
    # One block of rows per size, as the contact sheet has: a row is "variant · size".
    sizes = run_sizes(plan, results)
    for number in range(1, len(sheet_pages(plan, sizes)) + 1):
        sheet = object_key(campaign, page_name(number))
        if storage.verify(sheet) is None:
            files["contact sheet" if number == 1 else f"contact sheet {number}"] = sheet
    sized = sizes != [None]

    def row(variant: str, size: str | None) -> str:
        return f"{variant} · {size or 'base'}" if sized else variant

    rows = [row(variant, size) for size in sizes for variant in plan.variants]
    # A skipped cell of the base size stands for every size; any other is in its own size's row.
    cells = [
        replace(result, size=size) if size != result.size else result
        for result in results
        for size in (sizes if result.size is None and result.status == "skipped" else [result.size])
    ]
    page = gallery_html(
        cells,
        rows,
        list(plan.request.locales),
        title=campaign,
        image_link=image_link,
        files={label: link(key) for label, key in files.items()},
        facts=[
            f"from {run_info['source']} and {run_info['image']}",
            f"{run_info['backend']} ({run_info['mode']})",
            f"finished {run_info['finished'].replace('T', ' ').replace('+00:00', ' UTC')}",
        ],
        counts=count_by_status(results),  # a skipped cell shows in every size, counts once
        sizes=len(sizes),
        row=lambda result: row(result.variant, result.size),
    )
    key = object_key(campaign, "index.html")
    storage.put(key, page, "text/html; charset=utf-8")
    return storage.url(key)


def publish(
    results: Sequence[JobResult], campaign: str, source: Storage, target: Storage
) -> list[JobResult]:
    """Copy finished outputs from a staging storage to the final one (after a review)."""
    published = []
    for result in results:
        if result.status in DONE_STATUSES and result.key:
            key = output_key(campaign, result.locale, result.variant, result.key, result.size)
            metadata = {"variant": result.variant, "locale": result.locale, "key": result.key}
            uri = target.put(key, source.get(key), "image/png", metadata)
            result = replace(result, uri=uri, link=target.url(key))
        published.append(result)
    return published


def name_languages(plan: RunPlan) -> None:
    """Look up the names the gallery heads its columns with as soon as the plan is made, on the
    planning thread while the model works: Babel reads them from CLDR data, a tenth of a second
    for four locales that would otherwise follow the last edit."""
    for locale in plan.request.locales:
        native_name(locale)
