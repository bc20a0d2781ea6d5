"""The desk's campaigns on disk: each in ``<root>/_desk/<id>/`` with its inputs and its state.

A campaign's id is its name made safe, the day and six random hex digits: two uploads of the same
sheet, or two pastes, are two campaigns and never overwrite each other. The run writes its
outputs where any run of that name would (``<root>/<id>/``), so the served files, the gallery
and the manifest are the CLI's.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

from transcreate.campaign import Campaign, campaign_name, read_campaign
from transcreate.errors import CampaignError
from transcreate.images import MAX_BYTES, load_base_creative
from transcreate.inputs import MAX_CAMPAIGN_BYTES
from transcreate.sheets import Table, read_table

FOLDER = "_desk"  # under the served root; never served as files
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}-\d{8}-[0-9a-f]{6}$")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")


@dataclass
class DeskCampaign:
    """What the desk knows of one campaign (its ``state.json``)."""

    id: str
    name: str
    created: str
    image: str  # the base creative's file name in inputs/; "": each row brings its own
    sheet: str  # the sheet's file name in inputs/
    status: str = "draft"  # draft | running | done | failed
    locales: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    #: engineers' settings from the run form's "More settings" (backend, mode, layout, checks)
    options: dict[str, Any] = field(default_factory=dict)
    total: int = 0  # jobs and settled cells of the run
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    #: where the run is made: "desk" (this process) or "prefect" (a deployment's worker)
    engine: str = "desk"
    #: the Prefect flow run making it, and its page in the Prefect UI
    flow_run: str | None = None
    flow_run_url: str | None = None
    #: reviewers' decisions, by the job key of the creative they looked at (``review``)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: every decision ever made, oldest first (a correction replaces a rejection above)
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    """The sheet as the manager wrote it, with every problem where it is."""

    table: Table
    campaign: Campaign | None  # None when the sheet could not be read at all
    error: str | None = None

    def cell_problem(self, row: int, column: str) -> str | None:
        if self.campaign is None:
            return None
        found = [p.message for p in self.campaign.problems if p.row == row and p.column == column]
        return "; ".join(found) or None

    def row_problems(self, row: int, headers: list[str]) -> list[str]:
        """Problems of a row that name no column of the sheet."""
        if self.campaign is None:
            return []
        return [
            p.message
            for p in self.campaign.problems
            if p.row == row and (p.column is None or p.column not in headers)
        ]

    @property
    def usable(self) -> int:
        return len(self.campaign.variants) if self.campaign is not None else 0


class Desk:
    """The campaigns under one served root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # --- campaigns ------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        image: tuple[str, bytes] | None,
        sheet: tuple[str, bytes],
        *,
        max_image_bytes: int = MAX_BYTES,
    ) -> DeskCampaign:
        """A new campaign from an uploaded image and sheet, checked as every input is; a
        CampaignError names what is wrong before anything is kept. Without an image, each row
        of the sheet must bring its own (an image column, a product feed's image_link)."""
        sheet_name, sheet_data = sheet
        sheet_suffix = _suffix(sheet_name, SHEET_SUFFIXES, "the sheet", "a .csv or .xlsx file")
        if len(sheet_data) > MAX_CAMPAIGN_BYTES:
            raise CampaignError(
                f"the sheet is {len(sheet_data):,} bytes; the limit is {MAX_CAMPAIGN_BYTES:,}"
            )
        image_suffix = ""
        if image is None:
            _rows_bring_images(sheet_name, sheet_data)
        else:
            image_name, image_data = image
            image_suffix = _suffix(
                image_name, IMAGE_SUFFIXES, "the base image", "a PNG, JPEG or WebP"
            )
            if not image_data:
                raise CampaignError("the base image is empty; choose the image file again")
            load_base_creative(image_name, data=image_data, max_bytes=max_image_bytes)
        title = " ".join(name.split()) or PurePath(sheet_name).stem or "campaign"
        day = datetime.datetime.now(datetime.UTC)
        # 40 + 16 characters: within campaign_name's 64, so the run's folder is the id itself.
        slug = re.sub(r"[^a-z0-9-]+", "-", campaign_name(title))[:40].strip("-") or "campaign"
        ident = f"{slug}-{day:%Y%m%d}-{secrets.token_hex(3)}"
        campaign = DeskCampaign(
            id=ident,
            name=title[:120],
            created=day.isoformat(timespec="seconds"),
            image=f"base{image_suffix}" if image is not None else "",
            sheet=f"campaign{sheet_suffix}",
        )
        inputs = self.inputs(ident)
        inputs.mkdir(parents=True)
        if image is not None:
            (inputs / campaign.image).write_bytes(image[1])
        (inputs / campaign.sheet).write_bytes(sheet_data)
        self.save(campaign)
        return campaign

    def get(self, ident: str) -> DeskCampaign | None:
        if not _ID.match(ident):
            return None
        path = self.folder / ident / "state.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return DeskCampaign(**data)

    def save(self, campaign: DeskCampaign) -> None:
        """Written whole and then moved into place: a reader never sees half a state."""
        path = self.folder / campaign.id / "state.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            temporary = path.with_suffix(f".{threading.get_ident()}.tmp")
            temporary.write_text(json.dumps(asdict(campaign), ensure_ascii=False), "utf-8")
            os.replace(temporary, path)

    def campaigns(self) -> list[DeskCampaign]:
        """Every campaign, newest first."""
        found = [self.get(path.name) for path in self.folder.iterdir() if path.is_dir()]
        return sorted((c for c in found if c), key=lambda c: c.created, reverse=True)

    def inputs(self, ident: str) -> Path:
        return self.folder / ident / "inputs"

    def output(self, campaign: DeskCampaign) -> Path:
        """Where the run writes: the folder any run named after the campaign writes to."""
        return self.root / campaign.id

    # --- the sheet ------------------------------------------------------------------------------

    def preview(self, campaign: DeskCampaign) -> Preview:
        path = self.inputs(campaign.id) / campaign.sheet
        raw = path.read_bytes()
        source = f"{campaign.name} ({campaign.sheet})"
        try:
            table = read_table(raw, path.suffix.lower(), source, None)
            read = read_campaign(path, data=raw, name=campaign.id)
        except CampaignError as error:
            empty = Table(source, [], [])
            return Preview(empty, None, str(error))
        return Preview(table, read)

    def sheet_text(self, campaign: DeskCampaign) -> str | None:
        """The sheet as CSV text to correct in the browser (None for a workbook)."""
        if not campaign.sheet.endswith((".csv", ".tsv", ".txt")):
            return None
        return (self.inputs(campaign.id) / campaign.sheet).read_bytes().decode("utf-8-sig")

    def replace_sheet(self, campaign: DeskCampaign, text: str) -> DeskCampaign:
        """The corrected rows, kept as the campaign's sheet (CSV)."""
        data = text.replace("\r\n", "\n").encode("utf-8")
        if len(data) > MAX_CAMPAIGN_BYTES:
            raise CampaignError(
                f"the rows are {len(data):,} bytes; the limit is {MAX_CAMPAIGN_BYTES:,}"
            )
        if not text.strip():
            raise CampaignError("the rows are empty; keep the header row and one row a variant")
        inputs = self.inputs(campaign.id)
        (inputs / campaign.sheet).unlink(missing_ok=True)
        campaign.sheet = "campaign.csv"
        (inputs / campaign.sheet).write_bytes(data)
        self.save(campaign)
        return campaign


def _rows_bring_images(name: str, data: bytes) -> None:
    """Refuse a sheet uploaded without a base image unless it has an image column."""
    try:
        campaign = read_campaign(name, data=data)
    except CampaignError:
        return  # the run says what is wrong with the sheet, row by row
    if not any(variant.image for variant in campaign.variants):
        raise CampaignError(
            "choose the base creative (a PNG, JPEG or WebP image), or give every row of the "
            "sheet its own in an image column (a product feed's image_link)"
        )


def _suffix(name: str, accepted: tuple[str, ...], what: str, expected: str) -> str:
    suffix = PurePath(name.replace("\\", "/")).suffix.lower()
    if suffix not in accepted:
        shown = PurePath(name.replace("\\", "/")).name or "(no name)"
        raise CampaignError(f"{what} {shown!r} is not {expected}")
    return ".jpg" if suffix == ".jpeg" else suffix
