"""The contact sheet: every variant of a run in every locale and size, in pages of PNG for eyes
(`contact-sheet.png`, `contact-sheet-2.png` …), each drawn beside the run as soon as the cells it
shows are done (`EarlySheet`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

from transcreate.contact_sheet import contact_sheet, thumbnail
from transcreate.errors import TranscreateError
from transcreate.manifest import STORED_STATUSES, JobResult
from transcreate.run.plan import RunPlan, run_sizes
from transcreate.storage import Storage, object_key, output_key

CONTACT_SHEET_VARIANTS = 24  # rows of a page of the contact sheet (variants × sizes)
#: Pages at most: a catalog of thousands of rows is looked at in its gallery, not on 400 pages.
CONTACT_SHEET_PAGES = 20


Cell = tuple[str, str, str | None]  # (variant, locale, size) of an output


def write_contact_sheet(
    plan: RunPlan,
    results: Sequence[JobResult],
    storage: Storage,
    shrunk: Mapping[Cell, Image.Image] | None = None,
    page: int = 1,
) -> tuple[str, int]:
    """Store ``contact-sheet.png`` beside the manifest; returns its link and the variants shown.

    A contact sheet is for eyes: the first variants tell whether a run looks right, and decoding
    thousands of outputs would cost more than rendering them. A sheet already stored for exactly
    these cells (a cached re-run) is kept: its PNG carries the digest of what it shows.
    ``shrunk``: the thumbnails of outputs made already (the others are read and shrunk here).
    ``page``: which page (`sheet_pages`), stored as ``contact-sheet-<page>.png`` after the first.
    """
    campaign = plan.campaign.name

    def read(result: JobResult) -> bytes:
        return _output(storage, campaign, result)

    sizes = run_sizes(plan, results)
    variants = sheet_pages(plan, sizes)[page - 1]
    locales = list(plan.request.locales)
    cells = [*results, *plan.settled]  # skipped and blocked cells say so on the sheet
    key = object_key(campaign, page_name(page))
    digest = _cells_digest(cells, variants, locales)
    if _stored_sheet_digest(storage, key) != digest:
        sheet = contact_sheet(
            cells, variants, locales, read, sizes, text={SHEET_DIGEST: digest}, shrunk=shrunk
        )
        storage.put(key, sheet, "image/png")
    return storage.url(key), len(variants)


def _output(storage: Storage, campaign: str, result: JobResult) -> bytes:
    return storage.get(
        output_key(campaign, result.locale, result.variant, result.key or "", result.size)
    )


def sheet_variants(plan: RunPlan, sizes: Sequence[str | None]) -> list[str]:
    """The variants the contact sheet's first page shows: the first ones, a block of rows per
    size."""
    return sheet_pages(plan, sizes)[0]


def sheet_pages(plan: RunPlan, sizes: Sequence[str | None]) -> list[list[str]]:
    """The variants each page of the contact sheet shows, every variant on one of them (up to
    CONTACT_SHEET_PAGES pages)."""
    per_page = max(1, CONTACT_SHEET_VARIANTS // max(1, len(sizes)))
    variants = plan.variants[: per_page * CONTACT_SHEET_PAGES]
    return [variants[start : start + per_page] for start in range(0, len(variants), per_page)] or [
        []
    ]


def page_name(page: int) -> str:
    return "contact-sheet.png" if page == 1 else f"contact-sheet-{page}.png"


class EarlySheet:
    """Draws each page of the contact sheet beside the run as soon as every cell it shows is done.

    Jobs are made in the sheet's order, so its pages fill one after another: on a long run the
    drawing (decoding the outputs a page shows) overlaps the remaining edits instead of following
    the last one, and a catalog's ninth page is not a second of decoding after its last edit.
    Each output a page shows is shrunk as it comes, while the other edits wait on the model, and
    its thumbnail is dropped once its page is stored. Feed it each result as it comes (`add`,
    from before the plan is whole: `start` gives it the plan); `link` waits for every page, and
    draws any that never started."""

    def __init__(self, storage: Storage):
        self._storage = storage
        self._plan: RunPlan | None = None
        self._page_of: dict[str, int] = {}  # variant → the page that shows it
        self._waiting: dict[int, int] = {}  # page → its cells still to come
        self._early: list[JobResult] = []  # results that came before the plan
        self._done: dict[int, list[JobResult]] = {}
        self._shrunk: dict[Cell, Future[Image.Image]] = {}
        # Pillow decodes outside the GIL: a thread a core keeps up with outputs as they come.
        self._shrinking = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="thumbnail")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-sheet")
        self._drawings: dict[int, Future[tuple[str, int]]] = {}
        self._lock = threading.Lock()  # `start` comes from the planning thread

    def start(self, plan: RunPlan) -> None:
        with self._lock:
            self._plan = plan
            pages = sheet_pages(plan, run_sizes(plan, ()))
            self._page_of = {variant: n for n, page in enumerate(pages, 1) for variant in page}
            self._waiting = {n: 0 for n in range(1, len(pages) + 1)}
            self._done = {n: [] for n in self._waiting}
            for job in plan.jobs:
                if job.variant in self._page_of:
                    self._waiting[self._page_of[job.variant]] += 1
            for result in self._early:
                self._take(result)
            self._early = []
            for page, waiting in self._waiting.items():
                if waiting == 0 and page not in self._drawings:
                    self._draw_page(page)

    def add(self, result: JobResult) -> None:
        with self._lock:
            if self._plan is None:  # which page shows it is known with the plan
                self._early.append(result)
            else:
                self._take(result)

    def _take(self, result: JobResult) -> None:
        page = self._page_of.get(result.variant)
        if page is None or page in self._drawings:
            return
        self._done[page].append(result)
        self._shrink(result)
        self._waiting[page] -= 1
        if self._waiting[page] == 0:
            self._draw_page(page)

    def _shrink(self, result: JobResult) -> None:
        """Shrink an output made by this run now. One found stored is left for the drawing to
        read: a re-run whose stored sheet still holds decodes none."""
        if result.attempts and result.status in STORED_STATUSES and self._plan is not None:
            campaign = self._plan.campaign.name
            self._shrunk[(result.variant, result.locale, result.size)] = self._shrinking.submit(
                lambda: thumbnail(_output(self._storage, campaign, result))
            )

    def _draw_page(self, page: int) -> None:
        assert self._plan is not None
        results = list(self._done[page])
        self._drawings[page] = self._pool.submit(self._draw, self._plan, results, page)

    def _draw(self, plan: RunPlan, results: Sequence[JobResult], page: int) -> tuple[str, int]:
        cells = [(result.variant, result.locale, result.size) for result in results]
        shrunk = {}
        for cell in cells:
            future = self._shrunk.get(cell)
            if future is None:
                continue
            try:
                shrunk[cell] = future.result()
            except Exception:  # read again by the drawing, which says what is wrong with it
                continue
        try:
            return write_contact_sheet(plan, results, self._storage, shrunk, page=page)
        finally:
            with self._lock:  # drawn: its thumbnails are not needed again
                for cell in cells:
                    self._shrunk.pop(cell, None)

    def link(self, results: Sequence[JobResult]) -> tuple[str, int]:
        """The first page's link and the variants it shows, once every page is stored (the plan
        is whole by now): a page still waiting for a cell is drawn from ``results``."""
        try:
            with self._lock:
                assert self._plan is not None, "link before the plan was made"
                plan = self._plan
                missing = [page for page in self._waiting if page not in self._drawings]
            for page in missing:
                shown = set(sheet_pages(plan, run_sizes(plan, results))[page - 1])
                of_page = [result for result in results if result.variant in shown]
                self._drawings[page] = self._pool.submit(self._draw, plan, of_page, page)
            drawn = {page: future.result() for page, future in sorted(self._drawings.items())}
            return drawn[1]
        finally:
            self._pool.shutdown()
            self._shrinking.shutdown()


SHEET_DIGEST = "transcreate:cells"


def _cells_digest(
    cells: Sequence[JobResult], variants: Sequence[str], locales: Sequence[str]
) -> str:
    shown = set(variants)
    # What a cell shows: its output (made now or earlier: the same image), or its status.
    described = sorted(
        (
            r.variant,
            r.locale,
            r.size or "",
            "image" if r.status in STORED_STATUSES else r.status,
            r.key or "",
        )
        for r in cells
        if r.variant in shown
    )
    text = json.dumps([list(variants), list(locales), described], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored_sheet_digest(storage: Storage, key: str) -> str | None:
    try:
        with Image.open(io.BytesIO(storage.get(key))) as stored:
            return str(stored.info.get(SHEET_DIGEST) or "") or None
    except (TranscreateError, OSError, ValueError):
        return None  # none yet, or unreadable: draw it
