"""What the desk's browser tests share: the sheet a manager brings, a desk started as the README
says (`transcreate serve`), and a fresh browser page."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHEET = (
    "variant,headline,headline:th,cta,cta:th,discount,color,position\n"
    "spring,Spring Sale,ลดรับหน้าร้อน,Shop now,ช้อปเลย,30,yellow,top-left\n"
    "autumn,Autumn Sale,ลดฤดูใบไม้ร่วง,Shop,ช้อป,fifty,white,bottom-right\n"
)


@contextmanager
def served_desk(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`transcreate serve FOLDER --port 0` with ``env``; its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "transcreate.cli", "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        url = ""
        while not url:
            line = process.stdout.readline()
            assert line or process.poll() is None, "transcreate serve did not start"
            if line.startswith("serving "):
                url = line.split(" at ", 1)[1].split()[0]
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def desk_files(folder: Path) -> dict[str, Path]:
    sheet = folder / "spring.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    return {"sheet": sheet, "image": ROOT / "examples" / "creative.png"}


def new_page(browser: Any, width: int, height: int) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page
