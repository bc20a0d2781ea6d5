"""Review in the desk, one creative at a time: approve it, reject it with a note, or correct its
copy and make it again. A decision names who made it and when; it is kept with the campaign
(its state), in the manifest (``review`` on the creative's record: the latest) and in
``review.csv`` beside it (every decision, oldest first). A decision belongs to one made image
(its job key): a creative made again after a correction has a new key and waits for a new look.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
from pathlib import Path
from typing import Any

from transcreate.desk.store import Desk, DeskCampaign
from transcreate.errors import CampaignError
from transcreate.manifest import formula_safe
from transcreate.sheets import Formula, read_table

DECISIONS = ("approved", "rejected", "corrected")
MAX_NOTE = 500
MAX_NAME = 80
#: The copy a reviewer may correct, by the sheet column it comes from (``<column>:<locale>``).
CORRECTABLE = {"headline": "headline", "cta": "cta"}


def made(desk: Desk, campaign: DeskCampaign) -> dict[str, dict[str, Any]]:
    """The campaign's made creatives, by job key, from its manifest."""
    path = desk.output(campaign) / "manifest.json"
    try:
        jobs = json.loads(path.read_text(encoding="utf-8"))["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {job["key"]: job for job in jobs if job.get("key") and job.get("uri")}


def decide(
    desk: Desk, campaign: DeskCampaign, key: str, decision: str, note: str, by: str
) -> dict[str, Any]:
    """Record a reviewer's decision on one creative; a CampaignError says what is missing."""
    if decision not in DECISIONS:
        raise CampaignError(f"{decision!r} is not a decision; approve, reject or correct")
    job = made(desk, campaign).get(key)
    if job is None:
        raise CampaignError("that creative is not in the campaign any more; reload the page")
    by = " ".join(by.split())[:MAX_NAME]
    note = " ".join(note.split())[:MAX_NOTE]
    if not by:
        raise CampaignError("write your name, so the decision says who made it")
    if decision == "rejected" and not note:
        raise CampaignError("say why in the note, so whoever corrects it knows what to change")
    record = {
        "decision": decision,
        "note": note,
        "by": by,
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "variant": job.get("variant"),
        "locale": job.get("locale"),
        "size": job.get("size"),
    }
    campaign.decisions[key] = record
    campaign.history.append({**record, "key": key})
    desk.save(campaign)
    publish(desk, campaign)
    return record


def correct(
    desk: Desk, campaign: DeskCampaign, key: str, copy: dict[str, str], by: str
) -> DeskCampaign:
    """Write a reviewer's corrected copy into the sheet (the creative's variant, its locale's
    column), so the next run makes that creative again; everything unchanged is found stored."""
    job = made(desk, campaign).get(key)
    if job is None:
        raise CampaignError("that creative is not in the campaign any more; reload the page")
    changes = {
        f"{CORRECTABLE[role]}:{job['locale']}": " ".join(text.split())
        for role, text in copy.items()
        if role in CORRECTABLE and text.strip()
    }
    if not changes:
        raise CampaignError("write the corrected headline or button text")
    path = desk.inputs(campaign.id) / campaign.sheet
    table = read_table(path.read_bytes(), path.suffix.lower(), campaign.sheet, None)
    headers = [header.strip() for header in table.headers]
    if "variant" not in headers:
        raise CampaignError("the sheet has no variant column to find the row by")
    rows = [[_text(cell) for cell in cells] for _, cells in table.rows]
    for column in changes:
        if column not in headers:
            headers.append(column)
    rows = [row + [""] * (len(headers) - len(row)) for row in rows]
    variant_at = headers.index("variant")
    matched = [row for row in rows if row[variant_at].strip() == job["variant"]]
    if not matched:
        raise CampaignError(f"no row of the sheet is variant {job['variant']!r} any more")
    for row in matched:
        for column, text in changes.items():
            row[headers.index(column)] = text
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    desk.replace_sheet(campaign, buffer.getvalue())
    decide(
        desk, campaign, key, "corrected", "; ".join(f"{c} → {t}" for c, t in changes.items()), by
    )
    return campaign


def publish(desk: Desk, campaign: DeskCampaign) -> None:
    """The decisions into the manifest's records and ``review.csv``, written whole then moved."""
    output = desk.output(campaign)
    path = output / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for job in manifest.get("jobs", []):
        decision = campaign.decisions.get(job.get("key", ""))
        if decision is not None:
            job["review"] = {k: decision[k] for k in ("decision", "note", "by", "at")}
        else:
            job.pop("review", None)
    _write(path, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", "locale", "size", "decision", "note", "by", "at", "key"])
    for record in campaign.history:  # every decision, oldest first
        cells = [record.get(c) or "" for c in ("variant", "locale", "size", "decision", "note")]
        cells += [record.get("by") or "", record.get("at") or "", record.get("key") or ""]
        writer.writerow([formula_safe(str(cell)) for cell in cells])
    _write(output / "review.csv", ("\ufeff" + buffer.getvalue()).encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _text(cell: object) -> str:
    return cell.text if isinstance(cell, Formula) else str(cell)
