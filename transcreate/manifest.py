"""Job results → the manifest: a locale × variant matrix (CSV), one record per job (JSON). Pure."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

# ok: made now; cached: found stored; failed: the edit failed (after retries); skipped: no job
# (rejected row, locale not asked for); blocked: refused before any call (policy, input limits);
# needs_review: made, but a check (copy read back, change outside the copy area) flagged it.
Status = Literal["ok", "cached", "failed", "skipped", "blocked", "needs_review"]
STATUSES: tuple[Status, ...] = ("ok", "cached", "failed", "skipped", "blocked", "needs_review")
DONE_STATUSES: frozenset[str] = frozenset({"ok", "cached"})
STORED_STATUSES: frozenset[str] = DONE_STATUSES | {"needs_review"}  # an output exists


@dataclass(frozen=True)
class JobResult:
    """What became of one (variant, locale): a small record, never image bytes."""

    variant: str
    locale: str
    status: Status
    uri: str | None = None  # the output's stable name (s3://…, file://…)
    link: str | None = None  # where to open it: a presigned or public https link for S3
    instruction: str | None = None
    backend: str | None = None
    key: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    note: str | None = None  # what else a reader should know (made again, and why; who made it)
    #: the built-in editor's layout (transcreate.compose.record.read_layout): manifest.json only
    layout: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    #: the ad size (a preset's name or WxH); None: the base creative's own size, or every size
    #: of the row for a cell settled before any edit (skipped)
    size: str | None = None
    #: how the base was reframed to the size and what copy a small size dropped (from the
    #: built-in editor's layout record); None for the base's own size
    reframe: Mapping[str, Any] | None = None
    #: where each piece of copy came from, by field: sheet, machine or approved
    copy_origin: Mapping[str, str] | None = None
    #: the row's own image (its location, a link without its query); None: the run's image
    image: str | None = None
    #: one record per edit attempt, for the audit log (not part of the manifest)
    calls: tuple[Mapping[str, Any], ...] = field(default=(), repr=False, compare=False)


def copy_of(layout: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The copy a made creative carries, by role, from its layout record: its lines joined with
    a space where a line broke at one, none between two letters of a script written without
    spaces (Thai, Chinese, Japanese). Empty for a model's output (its record has no elements)."""
    return [
        (str(element.get("role")), _joined(element.get("lines") or []))
        for element in (layout or {}).get("elements") or []
    ]


def _joined(lines: Sequence[str]) -> str:
    text = ""
    for line in lines:
        unspaced = text and _unspaced(text[-1]) and _unspaced(line[:1])
        text += line if not text or unspaced else " " + line
    return text


def _unspaced(char: str) -> bool:
    return bool(char) and ("\u0e00" <= char <= "\u0eff" or "\u3000" <= char <= "\u9fff")


def count_by_status(results: Iterable[JobResult]) -> dict[str, int]:
    """``{"ok": 20, "cached": 0, "failed": 1, "skipped": 3}``, every status present."""
    counts = Counter(result.status for result in results)
    return {status: counts.get(status, 0) for status in STATUSES}


def matrix(
    results: Iterable[JobResult],
    variants: Sequence[str],
    locales: Sequence[str],
    sizes: Sequence[str | None] = (None,),
) -> list[dict[str, str]]:
    """One row per variant, one column per locale: the output's URI, or the status and why.

    With sizes other than the base's own, one block of rows per size, and a ``size`` column after
    ``variant``; a cell settled before any edit (skipped) holds for every size of its row."""
    cells: dict[tuple[str, str | None, str], JobResult] = {
        (r.variant, r.size, r.locale): r for r in results
    }
    known = set(variants)  # a set: a list here made the matrix quadratic in the variants
    extra = [v for v, _, _ in cells if v not in known]
    sized = list(sizes) != [None]
    rows = []
    for size in sizes:
        for variant in dict.fromkeys([*variants, *extra]):
            row = {"variant": variant}
            if sized:
                row["size"] = size or "base"
            for locale in locales:
                result = cells.get((variant, size, locale))
                settled = cells.get((variant, None, locale))
                if result is None and settled is not None and settled.status == "skipped":
                    result = settled
                row[locale] = _cell(result)
            rows.append(row)
    return rows


def _cell(result: JobResult | None) -> str:
    if result is None:
        return ""
    where = result.link or result.uri or ""
    if result.status in DONE_STATUSES and where:
        return where
    if result.status == "needs_review":
        return f"[needs_review] {where} ({result.error or ''})"
    return f"[{result.status}] {result.error or ''}".strip()


def matrix_csv(rows: Sequence[Mapping[str, str]], locales: Sequence[str]) -> bytes:
    """The matrix as CSV (UTF-8 with BOM so spreadsheet programs read Thai and Chinese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = ["variant", *(["size"] if rows and "size" in rows[0] else []), *locales]
    writer.writerow(columns)
    for row in rows:
        writer.writerow([formula_safe(row.get(column, "")) for column in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def records_json(results: Sequence[JobResult], run: Mapping[str, Any]) -> bytes:
    """Every job's record plus run information, as UTF-8 JSON: the run's fields indented, each
    job on a line of its own (one object a line reads and diffs well; indenting every field
    took the pure-Python encoder, 2 s and 40 MB for 10,000 jobs). Lines are encoded one by one
    and joined once, so the document is held twice at most, not as several texts."""
    head = json.dumps({**run, "counts": count_by_status(results)}, ensure_ascii=False, indent=2)
    parts = [f'{head.removesuffix("}").rstrip()},\n  "jobs": ['.encode()]
    for index, result in enumerate(results):
        parts += (
            b",\n    " if index else b"\n    ",
            json.dumps(_record(result), ensure_ascii=False).encode(),
        )
    parts.append(b"\n  ]\n}\n" if len(parts) > 1 else b"]\n}\n")
    return b"".join(parts)


_RECORDED = tuple(f.name for f in fields(JobResult) if f.name != "calls")  # calls: the audit log


def _record(result: JobResult) -> dict[str, Any]:
    # not dataclasses.asdict: its deep copy of every layout record was most of a manifest's cost
    return {name: getattr(result, name) for name in _RECORDED}


LOGGED = "logged"  # set on a call record once the durable audit log has it


def audit_line(call: Mapping[str, Any], run: str) -> bytes:
    """One audit line: a call's record with its run (never image bytes, never keys)."""
    record = {"run": run, **{name: value for name, value in call.items() if name != LOGGED}}
    return (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def audit_lines(results: Sequence[JobResult], run: str) -> bytes:
    """The lines of every edit attempt not yet in the durable audit log (see run.execute)."""
    return b"".join(
        audit_line(call, run) for result in results for call in result.calls if not call.get(LOGGED)
    )


_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_safe(value: str) -> str:
    """Neutralize a cell a spreadsheet program would run as a formula (OWASP CSV injection)."""
    if value and value.startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value
