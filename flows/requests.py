"""The process-requests flow: every campaign sheet dropped into an inbox folder becomes one run.

A request is a campaign sheet ``NAME.csv`` (or ``NAME.xlsx``) with its base image beside it as
``NAME.png``, ``.jpg``, ``.jpeg`` or ``.webp``; drop the image first, the sheet last, since the
sheet is what a run picks up. The inbox keeps its history in three folders:

    inbox/processing/NAME.<token>/   claimed by a run (one atomic rename; no other run can take it)
    inbox/done/NAME.csv              localized; the manifest is under ``out/NAME/``
    inbox/failed/NAME.csv            with NAME.error.txt saying what is wrong; fix and drop it again

A run that is killed leaves its claim in ``processing/``; move the files back into the inbox to
try again (finished images are found again, not redone).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from flows.localize import localize_campaign
from transcreate.locales import DEFAULT_LOCALES
from transcreate.pipeline import RunRequest, RunSummary

SHEET_SUFFIXES = (".csv", ".xlsx")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # the first one found wins
PROCESSING, DONE, FAILED = "processing", "done", "failed"


@dataclass(frozen=True)
class Claim:
    """A request this run has taken: its files moved into a folder of their own."""

    name: str  # NAME, the campaign's name
    token: str
    folder: Path
    sheet: Path
    image: Path | None

    @property
    def inbox(self) -> Path:
        return self.folder.parent.parent


class RequestResult(BaseModel):
    """What became of one request."""

    request: str = Field(description="The sheet's file name as dropped, e.g. spring-sale.csv")
    status: Literal["done", "failed"]
    message: str
    moved_to: str = Field(description="Where the sheet is now (inbox/done/… or inbox/failed/…)")


class InboxSummary(BaseModel):
    """The requests one run took: localized (done) and refused or failed (failed)."""

    inbox: str
    done: list[RequestResult] = Field(default_factory=list)
    failed: list[RequestResult] = Field(default_factory=list)


def find_requests(inbox: Path) -> list[Path]:
    """Campaign sheets waiting in the inbox, by name; hidden and Office lock files are not."""
    return sorted(
        path
        for path in inbox.iterdir()
        if path.suffix.lower() in SHEET_SUFFIXES
        and not path.name.startswith((".", "~$"))
        and path.is_file()
    )


def claim(sheet: Path, token: str | None = None) -> Claim | None:
    """Take a request by renaming it into a new folder under processing/; None if another run
    took it first (or it is gone). The sidecar image follows the sheet."""
    token = token or uuid.uuid4().hex[:12]
    # A folder of its own per claim: the rename can never replace another claim's file, even
    # when a sheet of the same name is dropped again while the first one is still running.
    folder = sheet.parent / PROCESSING / f"{sheet.stem}.{token}"
    folder.mkdir(parents=True)
    try:
        claimed = sheet.rename(folder / sheet.name)
    except FileNotFoundError:  # another run renamed it first
        folder.rmdir()
        return None
    image = None
    for candidate in _sidecar_images(sheet.parent, sheet.stem):
        try:
            image = candidate.rename(folder / candidate.name)
            break
        except FileNotFoundError:
            continue
    return Claim(sheet.stem, token, folder, claimed, image)


def _sidecar_images(inbox: Path, stem: str) -> list[Path]:
    found = {
        path.suffix.lower(): path
        for path in inbox.iterdir()
        if path.stem == stem and path.suffix.lower() in IMAGE_SUFFIXES
    }
    return [found[suffix] for suffix in IMAGE_SUFFIXES if suffix in found]


def settle(claimed: Claim, error: str | None = None) -> Path:
    """Move a claimed request to done/, or with an error to failed/ beside NAME.error.txt.

    Nothing already there is replaced: a name that is taken gets the claim's token
    (NAME.<token>.csv). Returns where the sheet is now."""
    destination = claimed.inbox / (FAILED if error is not None else DONE)
    destination.mkdir(exist_ok=True)
    files = [claimed.sheet, *([claimed.image] if claimed.image else [])]
    suffixes = [path.suffix for path in files] + [".error.txt"]
    stem = claimed.name
    if any((destination / f"{stem}{suffix}").exists() for suffix in suffixes):
        stem = f"{claimed.name}.{claimed.token}"
    if error is not None:  # written first: whoever sees the sheet in failed/ finds the reason
        (destination / f"{stem}.error.txt").write_text(error.rstrip() + "\n", encoding="utf-8")
    moved = [path.rename(destination / f"{stem}{path.suffix}") for path in files]
    with contextlib.suppress(OSError):  # not empty: someone put a file there; leave it be
        claimed.folder.rmdir()
    return moved[0]


def failure_report(request_name: str, summary: RunSummary) -> str | None:
    """Why a finished run does not count as done (rejected rows, failed jobs), or None."""
    if summary.succeeded:
        return None
    lines = [f"{request_name}: the run finished, but not everything was localized."]
    if summary.problems:
        lines += [f"{len(summary.problems)} row(s) rejected:", *summary.problems]
    if summary.failures:
        lines += [f"{len(summary.failures)} job(s) failed:", *summary.failures]
    lines.append(f"The other jobs are stored; manifest: {summary.manifest_csv}")
    return "\n".join(lines)


def summary_markdown(summary: InboxSummary) -> str:
    """The run's requests as a markdown table."""
    rows = [
        f"| {_cell(result.request)} | {result.status} | {_cell(result.message)} |"
        for result in [*summary.done, *summary.failed]
    ]
    return "\n".join(
        [
            f"# Creative requests in `{summary.inbox}`",
            "",
            f"{len(summary.done)} done, {len(summary.failed)} failed.",
            "",
            "| request | status | message |",
            "| --- | --- | --- |",
            *rows,
        ]
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


@flow(name="process-requests", validate_parameters=True)
def process_requests(
    inbox: str = "inbox",
    out: str = "out",
    image: str | None = None,
    locales: list[str] | None = None,
    backend: str = "local",
) -> InboxSummary:
    """Localize every campaign sheet dropped into the inbox: one localize-campaign run each.

    Args:
        inbox: Folder where requests are dropped: NAME.csv with NAME.png (.jpg, .jpeg, .webp).
        out: Destination folder for the images and manifests (each under NAME/).
        image: Base image for requests that come without one.
        locales: Target locales, e.g. id, th, zh, en (default: all supported).
        backend: Editor backend, e.g. local, dashscope, dify, openai.
    """
    logger = get_run_logger()
    folder = Path(inbox).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # The run's own parameters are checked once, before any request is taken: a typo in them
    # fails this run instead of sending every request to failed/.
    template = RunRequest(
        campaign=str(folder),
        image=image or "",
        out=out,
        backend=backend,
        locales=tuple(locales) if locales else DEFAULT_LOCALES,
    )
    summary = InboxSummary(inbox=str(folder))
    for sheet in find_requests(folder):
        claimed = claim(sheet)
        if claimed is None:
            continue
        result = _localize(claimed, template, sheet.name)
        (summary.done if result.status == "done" else summary.failed).append(result)
        log = logger.info if result.status == "done" else logger.warning
        log("%s → %s: %s", sheet.name, result.status, result.message)
    if summary.done or summary.failed:
        create_markdown_artifact(
            key="creative-requests",
            markdown=summary_markdown(summary),
            description=f"{len(summary.done)} done, {len(summary.failed)} failed",
        )
    else:
        logger.info("no requests in %s", folder)
    return summary


def _localize(claimed: Claim, template: RunRequest, request: str) -> RequestResult:
    try:
        image = claimed.image or (Path(template.image) if template.image else None)
        if image is None:
            names = ", ".join(f"{claimed.name}{suffix}" for suffix in IMAGE_SUFFIXES)
            raise ValueError(
                f"{request}: no base image; drop {names} beside it, "
                "or set the flow's image parameter"
            )
        run = localize_campaign.with_options(flow_run_name=claimed.name)
        summary = run(
            template.model_copy(
                update={"campaign": str(claimed.sheet), "image": str(image), "name": claimed.name}
            )
        )
        error = failure_report(request, summary)
        counts = ", ".join(f"{status} {count}" for status, count in summary.counts.items())
        message = error or f"{counts}; manifest {summary.manifest_csv}"
    except Exception as exception:  # one bad request is reported and never blocks the others
        error = str(exception) if request in str(exception) else f"{request}: {exception}"
        message = error
    moved = settle(claimed, error)
    return RequestResult(
        request=request,
        status="done" if error is None else "failed",
        message=message,
        moved_to=str(moved),
    )
