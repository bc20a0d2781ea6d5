"""The `transcreate` command as a user runs it: exit codes, messages, documentation."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from transcreate.cli import EXIT_INCOMPLETE, EXIT_UNUSABLE, app

runner = CliRunner()
README = Path(__file__).resolve().parent.parent / "README.md"


def test_run_renders_the_sample_and_exits_zero(tmp_path, sample_campaign, sample_image):
    result = runner.invoke(
        app,
        [
            "run",
            str(sample_campaign),
            "--image",
            str(sample_image),
            "--out",
            str(tmp_path),
            "--locales",
            "th,zh",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "manifest" in result.output
    assert len(list((tmp_path / "skincare-sale" / "th").glob("*.png"))) == 6
    assert len(list((tmp_path / "skincare-sale" / "zh").glob("*.png"))) == 5


def test_demo_writes_every_locale(tmp_path):
    # the base size only: the subject is what the demo writes, not its sizes' renders
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--sizes", "base"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "skincare-sale").iterdir()) == [
        "ar",
        "audit",
        "contact-sheet.png",
        "en",
        "id",
        "index.html",
        "ja",
        "manifest.csv",
        "manifest.json",
        "th",
        "zh",
    ]


def test_a_rejected_row_exits_one_and_names_row_and_column(tmp_path, sample_image):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("variant,headline,position\nok-1,Hello,top-left\nbad-1,Hi,upside-down\n")
    result = runner.invoke(
        app,
        [
            "run",
            str(sheet),
            "--image",
            str(sample_image),
            "--out",
            str(tmp_path),
            "--locales",
            "en",
        ],
    )
    assert result.exit_code == EXIT_INCOMPLETE
    assert "sheet.csv, row 3, column position: 'upside-down' is not a position" in result.output
    assert len(list((tmp_path / "sheet" / "en").glob("ok-1-*.png"))) == 1


def test_a_missing_campaign_file_exits_two_with_its_name(tmp_path, sample_image):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.csv"), "--image", str(sample_image)])
    assert result.exit_code == EXIT_UNUSABLE
    assert "nope.csv: no such campaign file" in result.output


def test_an_unknown_locale_or_backend_exits_two(tmp_path, sample_campaign, sample_image):
    args = ["run", str(sample_campaign), "--image", str(sample_image), "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--locales", "th,klingon-x"])
    assert result.exit_code == EXIT_UNUSABLE
    assert "not a CLDR locale" in result.output
    result = runner.invoke(app, [*args, "--backend", "gpu-magic"])
    assert result.exit_code == EXIT_UNUSABLE
    assert "--backend: 'gpu-magic' is not one of 'local', 'dashscope'" in result.output


def test_a_broken_image_exits_two(tmp_path, sample_campaign):
    image = tmp_path / "broken.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    result = runner.invoke(
        app, ["run", str(sample_campaign), "--image", str(image), "--out", str(tmp_path)]
    )
    assert result.exit_code == EXIT_UNUSABLE
    assert "broken.png: not a readable image" in result.output


def test_strict_mode_stops_before_any_edit(tmp_path, sample_image):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("variant,headline,discount\nok-1,Hello,20\nbad-1,Hi,150\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", str(sheet), "--image", str(sample_image), "--out", str(out), "--strict"]
    )
    assert result.exit_code == EXIT_UNUSABLE
    assert "row 3, column discount" in result.output
    assert not list(out.rglob("*.png"))


def test_every_command_and_option_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"transcreate {name}" in readme, name
    help_text = runner.invoke(app, ["run", "--help"], terminal_width=200).output
    for option in set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help"}:
        flag = option.replace("--no-", "--")  # --no-strict is documented with --strict
        assert flag in readme, option


def test_the_readme_lists_every_supported_locale_with_its_font_and_ocr_language():
    from transcreate.compose.fonts import package_for_locale
    from transcreate.locales import SUPPORTED_LOCALES
    from transcreate.ocr import tesseract_language

    rows = {
        line.split("|")[1].strip(" `"): line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for locale in SUPPORTED_LOCALES:
        assert locale in rows, locale
        assert f"`{package_for_locale(locale)}`" in rows[locale], locale
        assert f"`{tesseract_language(locale)}`" in rows[locale], locale
