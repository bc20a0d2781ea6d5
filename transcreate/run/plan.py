"""Plan a run: read and check the campaign, expand every variant × locale × size into jobs, and
refuse before anything is paid for what the policy blocks. Planning overlaps the first edits
(`PlanAhead`)."""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from transcreate.campaign import Campaign, Variant, read_campaign
from transcreate.compose.verdict import headline_room
from transcreate.editors import ByLocale, Editor
from transcreate.errors import CampaignError, TranscreateError
from transcreate.images import BaseCreative
from transcreate.instructions import template_names
from transcreate.jobs import SOURCE_LOCALE, EditJob, expand
from transcreate.looks import with_variations
from transcreate.manifest import JobResult
from transcreate.policy import Policy
from transcreate.request import RunRequest
from transcreate.row_images import with_row_images
from transcreate.run.execute import retrying
from transcreate.run.ports import Adapters
from transcreate.sheets import RowProblem
from transcreate.storage import Storage, object_key
from transcreate.translation.chat import Ask
from transcreate.translation.fill import Piece, Room, Transcreation, transcreate
from transcreate.translation.sheet import translations_csv, translations_xliff

logger = logging.getLogger(__name__)


def new_run_id() -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunPlan:
    """A checked campaign, ready to run: jobs to do and cells already settled as skipped."""

    request: RunRequest
    campaign: Campaign
    creative: BaseCreative | None  # the run's own image; None when every row brings its own
    jobs: tuple[EditJob, ...]
    settled: tuple[JobResult, ...]  # skipped, rejected and blocked cells, known before any edit
    run_id: str = field(default_factory=new_run_id)
    #: the version and digest of the policy the jobs were checked with
    policy: tuple[str, str] = ("", "")
    #: the records of the campaign's last manifest, by (variant, locale, size, job key)
    earlier: Mapping[tuple[str, str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    #: the copy this run translated or took from a reviewer (``transcreate.translation``)
    translations: tuple[Piece, ...] = ()

    @property
    def variants(self) -> list[str]:
        return [variant.variant for variant in self.campaign.variants]


def translated(campaign: Campaign, request: RunRequest, adapters: Adapters) -> Transcreation:
    """The campaign with the copy its locales lack translated (``request.translate``) or taken
    from the reviewer's approved translations (``request.translations``); each translation call
    retried as an edit is."""
    translator = adapters.translator
    translate = None
    if translator is not None:

        def translate(ask: Ask) -> str:
            for attempt in retrying(request.retries, request.retry_wait):
                with attempt:
                    return translator.translate(ask)
            raise AssertionError("unreachable: the last attempt raises")

    return transcreate(
        campaign,
        request.locales,
        translate,
        source_locale=request.source_locale or SOURCE_LOCALE,
        memory=adapters.translation_memory,
        glossary=adapters.glossary,
        approved=adapters.approved,
        workers=min(adapters.concurrency, 8),
        room=_layout_room(campaign, request, adapters) if translate is not None else None,
    )


def _layout_room(campaign: Campaign, request: RunRequest, adapters: Adapters) -> Room | None:
    """How many characters a translated headline may have to be set at a readable size in every
    size of the run, from the built-in editor's layout (decided, not painted); None where the
    model sets the copy (its layout is not known before it answers)."""
    compositor = getattr(adapters.editor, "overlay", adapters.editor)
    if not hasattr(compositor, "decide"):
        return None

    def room(variant: Variant, locale: str, headline: str) -> tuple[int, str] | None:
        copy = {**variant.copy, "headline": {**variant.copy["headline"], locale: headline}}
        probe = replace(campaign, variants=(replace(variant, copy=copy),))
        jobs = expand(
            probe, [locale], image_sha256=_run_image_hash(adapters),
            backend=compositor.identity, mode=request.mode_for(locale),
            sizes=request.size_names, glossary=adapters.glossary,
        ).jobs  # fmt: skip
        tightest: tuple[int, str] | None = None
        for job in jobs:
            try:
                image = adapters.images.data(job.image_sha256, job.image_source)
                record = compositor.decide(job, image).layout.record
            except TranscreateError as error:  # no legible size fits it at all: half as long
                found: tuple[int, str] | None = (max(4, len(headline) // 2), str(error))
            else:
                found = headline_room(record, len(headline))
                if found is not None:
                    found = (found[0], f"its {locale} headline {found[1]}")
            if found is not None and (tightest is None or found[0] < tightest[0]):
                tightest = found
        return tightest

    return room


def write_translations(
    storage: Storage, campaign: str, done: Transcreation, request: RunRequest
) -> None:
    """The run's translations for a reviewer: ``translations.csv`` and one XLIFF per locale."""
    if not done.pieces:
        return
    source = request.source_locale or SOURCE_LOCALE
    storage.put(object_key(campaign, "translations.csv"), translations_csv(done.pieces), "text/csv")
    for locale in dict.fromkeys(piece.locale for piece in done.pieces):
        storage.put(
            object_key(campaign, f"translations-{locale}.xlf"),
            translations_xliff(done.pieces, source, locale),
            "application/xliff+xml",
        )


def plan_run(request: RunRequest, adapters: Adapters) -> RunPlan:
    """Read and check the campaign, and expand every variant × locale into jobs."""
    planner = Planner(request, adapters)
    jobs, settled = planner.expand(planner.campaign.variants)
    return planner.plan(jobs, settled)


class Planner:
    """A campaign read and checked, expanded into jobs a slice of variants at a time (`expand`),
    so that a run can start its first edits while it plans the rest (`PlanAhead`)."""

    def __init__(self, request: RunRequest, adapters: Adapters):
        source = adapters.campaign()  # a file, a link or pasted rows, read by the root's reader
        campaign = read_campaign(
            source.name,
            data=source.data,
            name=request.name or None,
            templates=template_names(),
            sheet=request.sheet or None,
            model=request.backend != "local",
        )
        # each row's own image, fetched once and checked before anything is paid for
        campaign = with_row_images(
            campaign, request.campaign.strip(), adapters.images, bool(request.product_mask)
        )
        if request.strict and campaign.problems:
            listed = "\n".join(f"  {problem}" for problem in campaign.problems)
            raise CampaignError(
                f"{len(campaign.problems)} row(s) rejected (strict mode):\n{listed}"
            )
        if not campaign.variants and not campaign.problems:
            raise CampaignError(
                f"{campaign.source}: no rows; add one row per variant under the header"
            )
        self.transcreation: Transcreation | None = None
        if adapters.translator is not None or adapters.approved:
            self.transcreation = done = translated(campaign, request, adapters)
            campaign = done.campaign
            approved = sum(piece.origin == "approved" for piece in done.pieces)
            logger.info(
                "copy: %d piece(s) translated by machine (%d paid for, the rest remembered), "
                "%d approved, %d cell(s) failed",
                len(done.pieces) - approved, done.calls, approved, len(done.failed),
            )  # fmt: skip
            write_translations(adapters.storage, campaign.name, self.transcreation, request)
        # after the copy, which the variations of a row share
        campaign = with_variations(campaign, request.variations, adapters.looks)
        self.request, self.adapters, self.campaign = request, adapters, campaign
        self.run_id = new_run_id()
        self.earlier, earlier_policy = _last_manifest(adapters.storage, campaign.name)
        self.passed = (
            {
                key
                for (_, _, _, key), job in self.earlier.items()
                if job.get("status") in PASSED_POLICY
            }
            if earlier_policy == adapters.policy.digest
            else set()
        )

    def expand(self, variants: Sequence[Variant]) -> tuple[list[EditJob], list[JobResult]]:
        """The jobs of ``variants`` the policy lets through, and their skipped and blocked cells
        (a variant's jobs depend on no other variant: slices expand as the whole would)."""
        request, adapters = self.request, self.adapters
        expansion = expand(
            replace(self.campaign, variants=tuple(variants)),
            request.locales,
            image_sha256=_run_image_hash(adapters),
            backend=adapters.editor.identity,
            mode=request.effective_mode,
            routes=_routes(request, adapters.editor),
            allow_fallback=request.allow_fallback,
            instruction_language=adapters.instruction_language,
            sizes=request.size_names,
            glossary=adapters.glossary,
            outpaint=request.outpaint,
            logo_to_model=bool(getattr(adapters.editor, "takes_references", False)),
        )
        skipped = [
            JobResult(skip.variant, skip.locale, "skipped", error=skip.reason)
            for skip in expansion.skipped
        ]
        jobs, blocked = guard(expansion.jobs, request, adapters.policy, self.passed)
        failed = self.transcreation.failed if self.transcreation is not None else {}
        if failed:  # copy that could not be translated: those cells fail, nothing else
            jobs = [job for job in jobs if (job.variant, job.locale) not in failed]
            cells = {(skip.variant, skip.locale) for skip in expansion.skipped}
            skipped += [
                JobResult(variant, locale, "failed", error=reason)
                for (variant, locale), reason in failed.items()
                if (variant, locale) not in cells and any(v.variant == variant for v in variants)
            ]
        return jobs, skipped + blocked

    def plan(self, jobs: Sequence[EditJob], settled: Sequence[JobResult]) -> RunPlan:
        """The whole plan, once every variant is expanded."""
        rejected = _rejected_rows(self.campaign, self.request.locales)
        return RunPlan(
            self.request,
            self.campaign,
            self.adapters.creative,
            tuple(jobs),
            (*settled, *rejected),
            run_id=self.run_id,
            policy=(self.adapters.policy.version, self.adapters.policy.digest),
            earlier=self.earlier,
            translations=self.transcreation.pieces if self.transcreation is not None else (),
        )


def _run_image_hash(adapters: Adapters) -> str:
    return adapters.creative.sha256 if adapters.creative is not None else ""


def planned_calls(
    jobs: Sequence[EditJob], request: RunRequest, stored: Collection[str] = ()
) -> int:
    """The paid model calls the jobs would make at most: one per distinct edit (image,
    instruction and, where the model draws the copy, the ad size it draws in), none for a job
    whose output is stored (``stored``: their keys) or whose copy the compositor alone sets."""
    calls: set[tuple[str, str, str | None]] = set()
    for job in jobs:
        mode = request.mode_for(job.locale)
        if job.key in stored or mode == "overlay" or not job.instruction:
            continue
        # model+overlay: one call on the base serves every size of the job
        calls.add((job.image_sha256, job.instruction, job.size if mode == "model" else None))
    return len(calls)


# Statuses of jobs the policy let through (a blocked or skipped job never reached an editor).
PASSED_POLICY = frozenset({"ok", "cached", "needs_review", "failed"})


def _last_manifest(
    storage: Storage, campaign: str
) -> tuple[dict[tuple[str, str, str | None, str], dict[str, Any]], str | None]:
    """The job records of the campaign's last manifest.json, and the digest of the policy that
    run checked them with; nothing when there is none (or it is not one of ours)."""
    try:
        earlier = json.loads(storage.get(object_key(campaign, "manifest.json")))
        records = {
            (job["variant"], job["locale"], job.get("size"), job["key"]): job
            for job in earlier["jobs"]
            if isinstance(job, dict) and job.get("key")
        }
        policy = earlier.get("policy_digest")
    except (TranscreateError, ValueError, KeyError, TypeError, AttributeError):
        return {}, None
    return records, policy if isinstance(policy, str) else None


def guard(
    jobs: Sequence[EditJob],
    request: RunRequest,
    policy: Policy,
    passed: Collection[str] = (),
) -> tuple[list[EditJob], list[JobResult]]:
    """Refuse, before anything is paid for, jobs the policy blocks or a model would not take.

    ``passed``: keys of jobs this same policy let through before (a job's key covers every text
    the policy reads), which a re-run need not check again."""
    limit = request.max_instruction_chars
    sends_instruction = request.effective_mode != "overlay"
    allowed, blocked = [], []
    for job in jobs:
        match = None if job.key in passed else policy.check_job(job)
        reason = f"policy {policy.version}: {match}" if match else None
        if reason is None and sends_instruction and len(job.instruction) > limit:
            reason = (
                f"the instruction is {len(job.instruction)} characters; the limit is {limit} "
                "(shorten the copy or raise max_instruction_chars)"
            )
        if reason is None:
            allowed.append(job)
        else:
            blocked.append(
                JobResult(
                    job.variant,
                    job.locale,
                    "blocked",
                    instruction=job.instruction,
                    backend=job.backend,
                    key=job.key,
                    error=reason,
                    size=job.size,
                )
            )
    return allowed, blocked


def _rejected_rows(campaign: Campaign, locales: Sequence[str]) -> list[JobResult]:
    """One skipped cell per locale for each rejected row, named by its variant id when that is
    readable and not also a valid row's (a rejected duplicate must not hide the valid row)."""
    valid = {variant.variant for variant in campaign.variants}
    by_row: dict[int, list[RowProblem]] = {}
    for problem in campaign.problems:
        by_row.setdefault(problem.row, []).append(problem)
    results = []
    for row, row_problems in by_row.items():
        named = next((problem.variant for problem in row_problems if problem.variant), None)
        variant = named if named and named not in valid else f"row-{row}"
        reason = "; ".join(str(problem) for problem in row_problems)
        results += [JobResult(variant, locale, "skipped", error=reason) for locale in locales]
    return results


# A job being made holds a lease on its output key for this long; a run that dies holding it
def run_sizes(plan: RunPlan, results: Sequence[JobResult]) -> list[str | None]:
    """The run's sizes in order (None: the base's own), then any a row's sizes column added."""
    made = [job.size for job in plan.jobs] + [
        result.size
        for result in results
        if result.size is not None or result.status != "skipped"  # skipped: in every size
    ]
    return list(dict.fromkeys([*plan.request.size_names, *made]))


def _routes(request: RunRequest, editor: Editor) -> Callable[[str], tuple[str, str]] | None:
    """Each locale's (editor identity, mode) when mode auto routes some locales elsewhere."""
    if not isinstance(editor, ByLocale):
        return None
    routed = editor

    def route(locale: str) -> tuple[str, str]:
        return routed.editor_for(locale).identity, request.mode_for(locale)

    return route
