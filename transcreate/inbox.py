"""The creative-requests inbox: every campaign sheet dropped into it becomes one run.

The inbox is a folder or an ``s3://bucket/prefix``. A request is a campaign sheet ``NAME.csv``
(or ``NAME.xlsx``) with its base image beside it as ``NAME.png``, ``.jpg``, ``.jpeg`` or
``.webp``; drop the image first, the sheet last, since the sheet is what a run picks up. The
inbox keeps its history in three folders (prefixes on S3):

    inbox/processing/NAME.<token>/   claimed by a run; no other run can take it
    inbox/done/NAME.csv              localized; the manifest is under ``out/NAME/``
    inbox/failed/NAME.csv            with NAME.error.txt saying what is wrong; fix and drop it again

A folder request is claimed by one atomic rename. S3 has no rename, so a run first creates
``processing/NAME.claim`` with a conditional write (``If-None-Match: *``), which exactly one run
wins; the winner copies the sheet and image into ``processing/NAME.<token>/``, deletes the
originals, and deletes the marker only after settling, when the originals are gone. So no
request is processed twice. The window that remains is on the other side: the originals are
deleted only if unchanged since the copy (``If-Match``), so a sheet dropped again meanwhile under
the same name stays for the next run; a store that ignores conditional deletes would delete it
unprocessed. A store that ignores ``If-None-Match`` would let two runs claim one request. AWS S3
and SeaweedFS honour both.

A run that is killed leaves its claim in ``processing/``; move the files back into the inbox
(on S3, also delete ``processing/NAME.claim``) to try again; finished images are found again,
not redone.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from transcreate.run import RunSummary

if TYPE_CHECKING:
    from transcreate.storage.s3 import S3Storage

SHEET_SUFFIXES = (".csv", ".xlsx")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # the first one found wins
PROCESSING, DONE, FAILED = "processing", "done", "failed"


@dataclass(frozen=True)
class Claim:
    """A request one run has taken: where its sheet and image are now."""

    name: str  # NAME, the campaign's name
    token: str
    sheet: str  # a path, or s3://bucket/…/processing/NAME.<token>/NAME.csv
    image: str | None
    handle: str  # what settling needs: the claim's folder, or the S3 claim marker's key


class Inbox(Protocol):
    """Where requests are dropped: a folder (FolderInbox) or an s3:// prefix (S3Inbox)."""

    location: str

    def find_requests(self) -> list[str]:
        """The file names of the sheets waiting at the top of the inbox, sorted."""
        ...

    def claim(self, request: str) -> Claim | None:
        """Take a request for this run alone; None if another run has it (or it is gone)."""
        ...

    def settle(self, claimed: Claim, error: str | None = None) -> str:
        """Move it to done/ or, beside NAME.error.txt, to failed/; returns where the sheet is."""
        ...


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


# ---- a folder inbox: claims are atomic renames -------------------------------------------------


class FolderInbox:
    """An inbox folder on this machine (or a shared file system with atomic renames)."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.location = str(self.folder)

    def find_requests(self) -> list[str]:
        """Campaign sheets waiting, by name; hidden and Office lock files are not."""
        return sorted(
            path.name for path in self.folder.iterdir() if _is_sheet(path.name) and path.is_file()
        )

    def claim(self, request: str, token: str | None = None) -> Claim | None:
        """Take a request by renaming it into a new folder under processing/; None if another
        run took it first (or it is gone). The sidecar image follows the sheet."""
        sheet = self.folder / request
        token = token or uuid.uuid4().hex[:12]
        # A folder of its own per claim: the rename can never replace another claim's file,
        # even when a sheet of the same name is dropped again while the first one still runs.
        folder = self.folder / PROCESSING / f"{sheet.stem}.{token}"
        folder.mkdir(parents=True)
        try:
            claimed = sheet.rename(folder / sheet.name)
        except FileNotFoundError:  # another run renamed it first
            folder.rmdir()
            return None
        image = None
        for candidate in _sidecar_images(os.listdir(self.folder), sheet.stem):
            try:
                image = (self.folder / candidate).rename(folder / candidate)
                break
            except FileNotFoundError:
                continue
        return Claim(sheet.stem, token, str(claimed), str(image) if image else None, str(folder))

    def settle(self, claimed: Claim, error: str | None = None) -> str:
        """Move a claimed request to done/, or with an error to failed/ beside NAME.error.txt.

        Nothing already there is replaced: a name that is taken gets the claim's token
        (NAME.<token>.csv). Returns where the sheet is now."""
        destination = self.folder / (FAILED if error is not None else DONE)
        destination.mkdir(exist_ok=True)
        files = [Path(claimed.sheet), *([Path(claimed.image)] if claimed.image else [])]
        suffixes = [path.suffix for path in files] + [".error.txt"]
        stem = claimed.name
        if any((destination / f"{stem}{suffix}").exists() for suffix in suffixes):
            stem = f"{claimed.name}.{claimed.token}"
        if error is not None:  # written first: whoever sees the sheet in failed/ finds the reason
            (destination / f"{stem}.error.txt").write_text(error.rstrip() + "\n", encoding="utf-8")
        moved = [path.rename(destination / f"{stem}{path.suffix}") for path in files]
        with contextlib.suppress(OSError):  # not empty: someone put a file there; leave it be
            Path(claimed.handle).rmdir()
        return str(moved[0])


# ---- an S3 inbox: claims are conditional writes ------------------------------------------------


class S3Inbox:
    """An inbox under ``s3://bucket/prefix``, through S3Storage's boto3 client (so credentials
    and endpoint come from boto3's own configuration)."""

    def __init__(self, storage: S3Storage):
        self.client = storage.client
        self.bucket = storage.bucket
        self.root = f"{storage.prefix}/" if storage.prefix else ""
        self.location = storage.location

    def find_requests(self) -> list[str]:
        names = (key.removeprefix(self.root) for key in self._objects(self.root))
        return sorted(name for name in names if _is_sheet(name))

    def claim(self, request: str) -> Claim | None:
        name, token = PurePosixPath(request).stem, uuid.uuid4().hex[:12]
        marker = f"{self.root}{PROCESSING}/{name}.claim"
        if not self._create(marker, token.encode()):
            return None  # another run holds NAME
        folder = f"{self.root}{PROCESSING}/{name}.{token}/"
        sheet = self._move(self.root + request, folder + request)
        if sheet is None:  # settled by another run since we listed it, or replaced just now
            self.client.delete_object(Bucket=self.bucket, Key=marker)
            return None
        image = None
        for candidate in _sidecar_images(self._names(name), name):
            image = self._move(self.root + candidate, folder + candidate)
            if image is not None:
                break
        return Claim(name, token, self._uri(sheet), self._uri(image) if image else None, marker)

    def settle(self, claimed: Claim, error: str | None = None) -> str:
        destination = f"{self.root}{FAILED if error is not None else DONE}/"
        files = [self._key(claimed.sheet), *([self._key(claimed.image)] if claimed.image else [])]
        suffixes = [PurePosixPath(key).suffix for key in files] + [".error.txt"]
        stem = claimed.name
        # Race-free: only the holder of NAME.claim settles a request called NAME.
        taken = self._objects(f"{destination}{stem}.")
        if any(f"{destination}{stem}{suffix}" in taken for suffix in suffixes):
            stem = f"{claimed.name}.{claimed.token}"
        if error is not None:  # written first: whoever sees the sheet in failed/ finds the reason
            self.client.put_object(
                Bucket=self.bucket,
                Key=f"{destination}{stem}.error.txt",
                Body=(error.rstrip() + "\n").encode(),
                ContentType="text/plain; charset=utf-8",
            )
        moved = []
        for key in files:
            target = f"{destination}{stem}{PurePosixPath(key).suffix}"
            self.client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": key}
            )
            self.client.delete_object(Bucket=self.bucket, Key=key)
            moved.append(target)
        self.client.delete_object(Bucket=self.bucket, Key=claimed.handle)
        return self._uri(moved[0])

    def _create(self, key: str, body: bytes) -> bool:
        """Write ``key`` only if no object has that name; False if one has."""
        for _ in range(3):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
                return True
            except ClientError as error:
                if _code(error) == "PreconditionFailed":
                    return False
                # AWS answers 409 to writes racing for one key: ask again, to learn who won.
                if _code(error) != "ConditionalRequestConflict":
                    raise
        return False

    def _move(self, source: str, target: str) -> str | None:
        """Copy ``source`` to ``target`` and delete it, unless it changes meanwhile; the target,
        or None if the source is gone or changed before the copy."""
        try:
            etag = self.client.head_object(Bucket=self.bucket, Key=source)["ETag"]
            self.client.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                CopySourceIfMatch=etag,
            )
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "PreconditionFailed"):
                return None
            raise
        try:  # only the version copied: one dropped again since is a new request, left be
            self.client.delete_object(Bucket=self.bucket, Key=source, IfMatch=etag)
        except ClientError as error:
            if _code(error) not in ("404", "NoSuchKey", "PreconditionFailed"):
                raise
        return target

    def _names(self, stem: str) -> list[str]:
        """Names at the top of the inbox that start with ``stem.``."""
        return [key.removeprefix(self.root) for key in self._objects(f"{self.root}{stem}.")]

    def _objects(self, prefix: str) -> set[str]:
        """Keys starting with ``prefix``, not in a deeper folder."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _key(self, uri: str) -> str:
        return uri.removeprefix(f"s3://{self.bucket}/")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_sheet(name: str) -> bool:
    """A campaign sheet; hidden files and Office lock files are not."""
    return PurePosixPath(name).suffix.lower() in SHEET_SUFFIXES and not name.startswith((".", "~$"))


def _sidecar_images(names: Iterable[str], stem: str) -> list[str]:
    """The base images named after the sheet, in order of preference."""
    found = {
        PurePosixPath(name).suffix.lower(): name
        for name in names
        if PurePosixPath(name).stem == stem and PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES
    }
    return [found[suffix] for suffix in IMAGE_SUFFIXES if suffix in found]


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
    """The run's requests as a markdown table, the failed ones first with what to do."""
    rows = [
        f"| {_cell(result.request)} | {result.status} | {_cell(result.message)} |"
        for result in [*summary.failed, *summary.done]
    ]
    lines = [
        f"# Creative requests in `{summary.inbox}`",
        "",
        f"{len(summary.done)} done, {len(summary.failed)} failed.",
    ]
    if summary.failed:
        lines += [
            "",
            "Each failed sheet is in failed/ beside NAME.error.txt, which says why: correct it "
            "and drop it into the inbox again.",
        ]
    return "\n".join([*lines, "", "| request | status | message |", "| --- | --- | --- |", *rows])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")
