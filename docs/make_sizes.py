"""Draw docs/sizes.png: one variant of the sample campaign in every size, as the README shows it.

    .venv/bin/python docs/make_sizes.py [--variant summer-sale] [--locale th]

Every creative is made by the built-in editor exactly as a run makes it (the sample's base image,
the row's copy, the run's expansion) and drawn at one common scale (the banners at their own
pixels, or they could not be read).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from transcreate.campaign import read_campaign
from transcreate.compose.record import read_layout
from transcreate.editors.local import LocalEditor
from transcreate.jobs import expand
from transcreate.sizes import PRESETS, parse_size

ROOT = Path(__file__).resolve().parent.parent
SIZES = (None, *PRESETS, "300x250", "728x90")
SCALE = 0.25  # of the creatives' pixels; banners at twice that scale again, to be read
BANNER_SCALE = 1.0
GAP, LABEL = 24, 44


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="summer-sale")
    parser.add_argument("--locale", default="th")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sizes.png")
    arguments = parser.parse_args()
    image = (ROOT / "examples" / "creative.png").read_bytes()
    campaign = read_campaign(ROOT / "examples" / "skincare-sale.csv")
    editor = LocalEditor()
    jobs = expand(
        campaign, ["id", "th", "zh", "en"], image_sha256="", backend=editor.identity, sizes=SIZES
    ).jobs
    chosen = [j for j in jobs if (j.variant, j.locale) == (arguments.variant, arguments.locale)]
    tiles = []
    for job in chosen:
        png = editor.edit(job, image)
        record = read_layout(png) or {}
        with Image.open(io.BytesIO(png)) as opened:
            creative = opened.convert("RGB")
        size = parse_size(job.size) if job.size else None
        label = size.label if size else f"base {creative.width}×{creative.height}"
        label = label.replace("×", " x ")  # the default label font has no ×
        if record.get("dropped"):
            label += f" (dropped {', '.join(record['dropped'])})"
        scale = SCALE if max(creative.size) > 800 else BANNER_SCALE
        shown = creative.resize((round(creative.width * scale), round(creative.height * scale)))
        tiles.append((label, shown))
    rows = [tiles[:5], tiles[5:]]  # the feed and story sizes, then the banners
    font = ImageFont.load_default(size=18)
    width = GAP + max(sum(t.width + GAP for _, t in row) for row in rows)
    heights = [LABEL + max(t.height for _, t in row) + GAP for row in rows]
    sheet = Image.new("RGB", (width, GAP + sum(heights)), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    top = GAP
    for row, height in zip(rows, heights, strict=True):
        left = GAP
        for label, tile in row:
            draw.text((left, top), label, fill=(40, 40, 40), font=font)
            sheet.paste(tile, (left, top + LABEL - 14))
            left += tile.width + GAP
        top += height
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(arguments.out, optimize=True)
    print(f"wrote {arguments.out} ({sheet.width}×{sheet.height})")


if __name__ == "__main__":
    main()
