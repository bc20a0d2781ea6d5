"""The built-in editor on real photographs, judged on its layout records: a campaign in every
size and locale on each photograph scikit-image ships, then per size the share of outputs that
break a hard rule (copy off the canvas or its safe zone, on a face, over the subject, a stretched
fill, a headline below the readable size), the share sent to review, and one mosaic per photo
to look at. Nothing here is asserted: the tests assert the rules; this is what an art director
looks at (see bench/README.md).

    .venv/bin/python bench/photos.py [--out /tmp/photos] [--photos coffee,rocket,astronaut,chelsea]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SIZES = "base,square,story,landscape,300x250,728x90"
LOCALES = "id,th,zh,en"


def photograph(name: str, folder: Path) -> Path:
    import skimage.data  # a test dependency: the photographs ship inside the package

    path = folder / f"{name}.png"
    if not path.exists():
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(path)
    return path


def run(photo: Path, out: Path, sheet: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "transcreate.cli", "run", str(sheet), "--image", str(photo),
         "--sizes", SIZES, "--locales", LOCALES, "--out", str(out), "--concurrency", "2"],
        check=False, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    return time.perf_counter() - started


def mosaic(jobs: list[dict], folder: Path, name: str) -> Path:
    """Per size a row: the first two variants in every locale, at a common height."""
    rows = []
    variants = sorted({job["variant"] for job in jobs})[:2]
    for size in [None, "square", "story", "landscape", "300x250", "728x90"]:
        cells = [job for job in jobs if job["size"] == size and job["variant"] in variants]
        cells.sort(key=lambda job: (job["variant"], job["locale"]))
        images = []
        for job in cells:
            path = Path((job["uri"] or "").removeprefix("file://"))
            if not job["uri"] or not path.exists():
                continue
            image = Image.open(path).convert("RGB")
            height = 260 if image.width / image.height < 4 else 90
            image = image.resize((round(image.width * height / image.height), height))
            if job["status"] not in ("ok", "cached"):
                ImageDraw.Draw(image).rectangle(
                    (0, 0, image.width - 1, image.height - 1), outline="red", width=4
                )
            images.append(image)
        if images:
            row = Image.new(
                "RGB", (sum(i.width + 6 for i in images), max(i.height for i in images)), "white"
            )
            x = 0
            for image in images:
                row.paste(image, (x, 0))
                x += image.width + 6
            rows.append(row)
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height + 10 for r in rows)), "white")
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height + 10
    path = folder / f"{name}-mosaic.png"
    sheet.save(path, optimize=True)
    return path


def grid(folder: Path, names: list[str], path: Path, variant: str, locale: str) -> Path:
    """One row per photograph, one column per size: ``variant`` in ``locale``, for docs/."""
    rows = []
    for name in names:
        manifest = json.loads(next((folder / name).glob("*/manifest.json")).read_text())
        cells = {
            job["size"] or "base": job
            for job in manifest["jobs"]
            if job["variant"] == variant and job["locale"] == locale and job["uri"]
        }
        images = []
        for size in ["base", "square", "story", "landscape", "300x250", "728x90"]:
            if size not in cells:
                continue
            image = Image.open(cells[size]["uri"].removeprefix("file://")).convert("RGB")
            height = 220 if size != "728x90" else 90
            image = image.resize((round(image.width * height / image.height), height))
            if cells[size]["status"] == "needs_review":
                ImageDraw.Draw(image).rectangle(
                    (0, 0, image.width - 1, image.height - 1), outline="red", width=4
                )
            images.append(image)
        row = Image.new("RGB", (sum(i.width + 6 for i in images), 220), "white")
        x = 0
        for image in images:
            row.paste(image, (x, 0))
            x += image.width + 6
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), len(rows) * 226), "white")
    for index, row in enumerate(rows):
        sheet.paste(row, (0, index * 226))
    sheet.save(path, optimize=True)
    return path


def judge(job: dict) -> list[str]:
    """What an output breaks, by the rules the run applies (``compose.verdict``), in short, plus
    a fill that stretches edges, which the run does not check."""
    from transcreate.compose.verdict import layout_problems

    short = []
    for problem in layout_problems(job.get("layout")):
        for key in ("runs off", "safe zone", "face", "plate", "headline is"):
            if key in problem:
                short.append(key)
    frame = (job.get("layout") or {}).get("reframe") or {}
    if frame.get("fill") == "continue" and frame.get("fill_share", 0) > 0.05:
        short.append("edge fill")
    return sorted(set(short))


def agree(jobs: list[dict], counts: dict[str, int]) -> None:
    """Count the ads whose locales disagree: other elements, or headlines > 1.25× apart."""
    sets: dict[tuple[str, str | None], list[dict]] = defaultdict(list)
    for job in jobs:
        if job.get("layout") and job["layout"].get("elements"):
            sets[(job["variant"], job["size"])].append(job["layout"])
    for layouts in sets.values():
        counts["sets"] += 1
        kept = {tuple(sorted(e["role"] for e in layout["elements"])) for layout in layouts}
        counts["elements"] += len(kept) > 1
        sizes = [
            element["font_size"]
            for layout in layouts
            for element in layout["elements"]
            if element["role"] == "headline"
        ]
        counts["headline"] += bool(sizes) and max(sizes) > 1.25 * min(sizes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/photos"))
    parser.add_argument("--photos", default="coffee,rocket,astronaut,chelsea")
    parser.add_argument("--sheet", type=Path, default=ROOT / "examples" / "skincare-sale.csv")
    parser.add_argument("--grid", type=Path, help="also draw one variant per photo and size here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    by_size: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    statuses: dict[str, int] = defaultdict(int)
    rates = []
    disagree = {"sets": 0, "elements": 0, "headline": 0}
    for name in args.photos.split(","):
        photo = photograph(name, args.out)
        out = args.out / name
        shutil.rmtree(out, ignore_errors=True)  # every output made now: the rate is the editor's
        seconds = run(photo, out, args.sheet)
        manifest = json.loads(next(out.glob("*/manifest.json")).read_text())
        jobs = manifest["jobs"]
        rates.append(len(jobs) / seconds)
        for job in jobs:
            statuses[job["status"]] += 1
            by_size[job["size"] or "base"].append((job["status"], judge(job)))
        print(f"{name}: {len(jobs)} outputs in {seconds:.1f} s; {mosaic(jobs, args.out, name)}")
        agree(jobs, disagree)
    print(f"statuses: {dict(statuses)}; images/s {statistics.mean(rates):.2f}")
    if args.grid:
        print(grid(args.out, args.photos.split(","), args.grid, "flash-deal", "th"))
    print(
        f"variant × size sets: {disagree['sets']}; keep different elements per locale: "
        f"{disagree['elements']}; headline sizes more than 1.25× apart: {disagree['headline']}"
    )
    for size, verdicts in by_size.items():
        shipped = [broken for status, broken in verdicts if status in ("ok", "cached")]
        review = [broken for status, broken in verdicts if status == "needs_review"]
        reasons: dict[str, int] = defaultdict(int)
        for broken in review:
            for reason in broken:
                reasons[reason] += 1
        print(
            f"{size:>10}: {sum(1 for b in shipped if b)}/{len(shipped)} ok break a rule; "
            f"{len(review)}/{len(verdicts)} needs_review {dict(reasons)}"
        )


if __name__ == "__main__":
    main()
