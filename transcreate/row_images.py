"""Every row its own product: the sheet's ``image`` column (a path relative to the sheet, an
``s3://`` URI or an ``https://`` link) replaces the run's image for that row.

Each distinct image is fetched once, before any edit, with the checks the run's image gets (size,
format, pixels, private addresses); one that cannot be used is a problem of its row, named by
row and column, and the other rows go on. The run's jobs then find their image by hash in
`RowImages`, which holds them within a byte budget: one pushed out is fetched again by its
location (a Dask worker fetches its own the same way) and must still be the same image.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from transcreate.campaign import Campaign
from transcreate.errors import CampaignError, StorageError, TranscreateError
from transcreate.images import BaseCreative
from transcreate.sheets import RowProblem, split_sheet

Fetch = Callable[[str], BaseCreative]  # a location → the checked image (raises CampaignError)

BUDGET_BYTES = 512 * 1024 * 1024  # images held at once; a catalog's are far smaller each
FETCHES_AT_ONCE = 8


def resolve(cell: str, sheet: str) -> str:
    """Where a row's image is: an ``s3://`` URI or link as written; a path is read from the
    sheet's folder (its ``s3://`` prefix, its link's folder; the working folder for pasted rows)
    and may not leave it. ValueError says what is wrong."""
    text = cell.strip()
    if text.startswith(("https://", "http://", "s3://")):
        return text
    if "://" in text or text.lower().startswith("file:"):
        raise ValueError(
            f"{text!r}: use a path relative to the sheet, an s3:// URI or an https:// link"
        )
    path = PurePosixPath(text.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ValueError(
            f"{text!r}: a row's image path is read from the sheet's folder and may not leave it "
            "(no absolute path, no '..'); put the images beside the sheet, or give an s3:// URI "
            "or an https:// link"
        )
    location = split_sheet(sheet)[0] if sheet else ""
    if location.startswith(("https://", "http://")):
        return urljoin(location, quote(str(path)))
    if location.startswith("s3://"):
        parts = urlsplit(location)
        prefix = PurePosixPath(parts.path).parent
        return f"s3://{parts.netloc}/{str(prefix / path).lstrip('/')}"
    local = Path(location).parent if location else Path.cwd()
    return str((local / Path(*path.parts)).absolute())


class RowImages:
    """The images a run's jobs start from, by hash: the run's image (``base``, None when every
    row brings its own) and each row's, fetched once per location."""

    def __init__(
        self, base: BaseCreative | None, fetch: Fetch, budget_bytes: int = BUDGET_BYTES
    ) -> None:
        self.base = base
        self._fetch = fetch
        self._budget = budget_bytes
        self._held: OrderedDict[str, BaseCreative] = OrderedDict()
        self._hash_of: dict[str, str] = {}  # location → sha256 of what was fetched from it
        self._bytes = 0  # of the images held
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}

    @classmethod
    def of(cls, data: bytes) -> RowImages:
        """The run's image alone, as bytes already checked (a one-off edit, a test)."""
        sha256 = hashlib.sha256(data).hexdigest()
        return cls(BaseCreative("image", data, sha256, 0, 0, ""), _no_fetch)

    def fetch_all(self, locations: Iterable[str]) -> dict[str, str | TranscreateError]:
        """Each distinct location's image hash, or why it cannot be used; fetched concurrently
        (and held within the budget: a feed of thousands is never all in memory at once)."""
        distinct = list(dict.fromkeys(locations))
        if not distinct:
            return {}

        def one(location: str) -> str | TranscreateError:
            try:
                return self._fetched(location).sha256
            except TranscreateError as error:
                return error

        with ThreadPoolExecutor(min(FETCHES_AT_ONCE, len(distinct)), "fetch-image") as pool:
            return dict(zip(distinct, pool.map(one, distinct), strict=True))

    def data(self, sha256: str, location: str | None) -> bytes:
        """The bytes of the image with hash ``sha256``: the run's (``location`` None) or a row's,
        held or fetched again from ``location``."""
        if location is None or (self.base is not None and sha256 == self.base.sha256):
            if self.base is None:
                raise CampaignError("the run has no image, and this row has none of its own")
            return self.base.data
        with self._lock:
            held = self._held.get(sha256)
            if held is not None:
                self._held.move_to_end(sha256)
                return held.data
        creative = self._fetched(location)
        if creative.sha256 != sha256:
            raise StorageError(f"{location} changed while the run was going; start it again")
        return creative.data

    def _fetched(self, location: str) -> BaseCreative:
        """Fetch ``location`` once even when many jobs ask at the same time, and hold it."""
        with self._lock:
            gate = self._fetching.setdefault(location, threading.Lock())
        with gate:
            with self._lock:
                held = self._held.get(self._hash_of.get(location, ""))
                if held is not None:
                    return held
            creative = self._fetch(location)
            with self._lock:
                self._hash_of[location] = creative.sha256
                if creative.sha256 not in self._held:
                    self._held[creative.sha256] = creative
                    self._bytes += len(creative.data)
                while self._bytes > self._budget > 0 and len(self._held) > 1:
                    _, pushed = self._held.popitem(last=False)
                    self._bytes -= len(pushed.data)
            return creative


def _no_fetch(location: str) -> BaseCreative:
    raise CampaignError(f"{location}: this run reads no image but its own")


def with_row_images(
    campaign: Campaign, sheet: str, images: RowImages, product_mask: bool = False
) -> Campaign:
    """The campaign with each row's own image and logo fetched and checked (their resolved
    locations and hashes on the variant); a row whose image or logo cannot be used, or that has
    no image in a run without one, is a problem of its row, in that column. ``sheet``: the
    campaign's location, which relative paths are read from."""
    own = [variant for variant in campaign.variants if variant.image]
    if not own and images.base is None and campaign.variants:
        raise CampaignError(
            f"{campaign.source}: no image to edit: give the run one (--image), or the sheet "
            "an image column (image_link in a product feed)"
        )
    if own and product_mask:
        rows = ", ".join(str(variant.row) for variant in own[:5])
        raise CampaignError(
            f"{campaign.source}: a product mask is the run's image's, and rows {rows} bring "
            "their own image (the product is found in each by itself): leave product_mask empty"
        )
    if not own and not any(variant.logo for variant in campaign.variants):
        return campaign
    problems = list(campaign.problems)
    located: dict[tuple[str, str], str] = {}  # (variant, column) → location
    for variant in campaign.variants:
        for column in _COLUMNS:
            cell = getattr(variant, column)
            if not cell:
                continue
            try:
                located[variant.variant, column] = resolve(cell, sheet)
            except ValueError as error:
                problems.append(
                    _problem(campaign, variant.row, variant.variant, column, str(error))
                )
    found = images.fetch_all(located.values())
    variants = []
    for variant in campaign.variants:
        if not variant.image and images.base is None:
            message = "empty, and the run has no image of its own: give the row its image"
            problems.append(_problem(campaign, variant.row, variant.variant, "image", message))
            continue
        checked: dict[str, Any] = {}
        for column in _COLUMNS:
            if not getattr(variant, column):
                continue
            location = located.get((variant.variant, column))
            image = found[location] if location is not None else None
            if isinstance(image, TranscreateError):
                problems.append(
                    _problem(campaign, variant.row, variant.variant, column, str(image))
                )
            if location is None or not isinstance(image, str):
                break
            checked |= {column: location, f"{column}_sha256": image}
        else:
            variants.append(replace(variant, **checked))
    return replace(
        campaign,
        variants=tuple(variants),
        problems=tuple(sorted(problems, key=lambda problem: problem.row)),
    )


_COLUMNS = ("image", "logo")  # a row's own inputs, read alike


def _problem(campaign: Campaign, row: int, variant: str, column: str, message: str) -> RowProblem:
    return RowProblem(campaign.source, row, column, message, variant)
