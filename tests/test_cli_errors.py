"""A user's mistake is one sentence and exit 2, never a traceback; results on stdout."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from transcreate import __version__
from transcreate.cli import EXIT_INCOMPLETE, EXIT_UNUSABLE, SHOWN_PER_KIND, app

runner = CliRunner()


def run(*args: str, **kwargs):
    return runner.invoke(app, ["run", *args], catch_exceptions=True, **kwargs)


def test_version_prints_the_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"transcreate {__version__}"


def test_results_go_to_stdout_and_progress_to_stderr(tmp_path, sample_campaign, sample_image):
    result = run(
        str(sample_campaign), "-i", str(sample_image), "-o", str(tmp_path), "--locales", "en"
    )
    assert result.exit_code == 0, result.output
    assert "manifest: file://" in result.stdout
    assert "took" not in result.stdout and "took" in result.stderr


def test_square_brackets_in_a_sheet_are_text_not_markup(tmp_path, sample_image):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("variant,headline,position\n[/x],Hello,top-left\n[bold]y,Hi,nowhere\n")
    result = run(
        str(sheet), "-i", str(sample_image), "-o", str(tmp_path / "out"), "--locales", "en"
    )
    assert result.exit_code == EXIT_INCOMPLETE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "[bold]y" in result.stderr  # printed as written, not swallowed as a style
    manifest = json.loads((tmp_path / "out" / "sheet" / "manifest.json").read_text("utf-8"))
    # the rejected row is named by its variant id, not "row-3"
    assert {job["variant"] for job in manifest["jobs"]} == {"[/x]", "[bold]y"}


def test_a_down_prefect_api_is_one_sentence(tmp_path, sample_campaign, sample_image, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    result = run(str(sample_campaign), "-i", str(sample_image), "-o", str(tmp_path))
    assert result.exit_code == EXIT_UNUSABLE
    assert "the Prefect API at http://127.0.0.1:9/api does not answer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_overlay_mode_on_a_model_backend_says_what_would_work(sample_campaign, sample_image):
    result = run(
        str(sample_campaign), "-i", str(sample_image), "--backend", "openai", "--mode", "overlay"
    )
    assert result.exit_code == EXIT_UNUSABLE
    assert result.stderr.startswith("error: mode 'overlay' is the local editor's; with backend")
    assert "--:" not in result.stderr and "Value error" not in result.stderr


def test_options_in_errors_are_spelt_as_typed(sample_campaign, sample_image):
    result = run(str(sample_campaign), "-i", str(sample_image), "--max-image-mb", "-3")
    assert result.exit_code == EXIT_UNUSABLE
    assert "--max-image-mb:" in result.stderr and "max_image_mb" not in result.stderr


def test_an_empty_destination_is_refused(sample_campaign, sample_image):
    result = run(str(sample_campaign), "-i", str(sample_image), "--out", "")
    assert result.exit_code == EXIT_UNUSABLE
    assert "--out: is empty; give a folder or s3://bucket/prefix" in result.stderr


def test_many_rejected_rows_are_counted_not_listed(tmp_path, sample_image):
    sheet = tmp_path / "sheet.csv"
    rows = "".join(f"bad-{n},Hi,nowhere\n" for n in range(40))
    sheet.write_text("variant,headline,position\nok,Hello,top-left\n" + rows)
    result = run(
        str(sheet), "-i", str(sample_image), "-o", str(tmp_path / "out"), "--locales", "en"
    )
    assert result.exit_code == EXIT_INCOMPLETE
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected:")]
    assert len(rejected) == SHOWN_PER_KIND
    assert f"…and {40 - SHOWN_PER_KIND} more rejected rows, see the manifest" in result.stderr


def test_edit_into_a_folder_writes_inside_it_before_any_call(tmp_path, sample_image):
    # No key is set: the run must stop at the key check, having accepted the folder as -o.
    result = runner.invoke(app, ["edit", str(sample_image), "make it blue", "-o", str(tmp_path)])
    assert result.exit_code == EXIT_UNUSABLE
    assert "IsADirectoryError" not in result.output and "Traceback" not in result.output


OPTION_VALUES = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1e9",
        "nan",
        "[/x]",
        "[bold]",
        "th,xx",
        "s3://",
        "../..",
        "\x00",
        "ไทย",
        "汉字",
    ]
)
OPTIONS = st.sampled_from(
    [
        "--locales",
        "--backend",
        "--mode",
        "--concurrency",
        "--retries",
        "--retry-wait",
        "--max-image-mb",
        "--max-instruction-chars",
        "--out",
        "--name",
        "--image",
        "--nope",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(OPTIONS, OPTION_VALUES), max_size=3))
def test_fuzzed_options_never_end_in_a_traceback(
    tmp_path, sample_campaign, sample_image, monkeypatch, pairs
):
    monkeypatch.chdir(tmp_path)  # a relative --out lands here, never in the checkout
    args = [str(sample_campaign), "-i", str(sample_image), "-o", str(tmp_path), "--locales", "en"]
    for option, value in pairs:
        args += [option, value]
    result = run(*args)
    assert result.exit_code in (0, EXIT_INCOMPLETE, EXIT_UNUSABLE), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


SHEET_TEXT = st.text(alphabet=string.printable + "[]/ไทย汉字\u202e\x00", max_size=60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(SHEET_TEXT, SHEET_TEXT)
def test_fuzzed_sheet_text_never_ends_in_a_traceback(tmp_path, sample_image, variant, headline):
    sheet = tmp_path / "fuzz.csv"
    sheet.write_bytes(f"variant,headline\n{variant},{headline}\n".encode("utf-8", "replace"))
    result = run(
        str(sheet), "-i", str(sample_image), "-o", str(tmp_path / "out"), "--locales", "en"
    )
    assert result.exit_code in (0, EXIT_INCOMPLETE, EXIT_UNUSABLE), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


@pytest.mark.parametrize("width", [60, 200])
def test_help_wraps_to_the_terminal_without_cutting_option_names(width):
    result = runner.invoke(app, ["run", "--help"], terminal_width=width)
    assert "--max-instruction-chars" in result.output
    assert "--callback-secret-block" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "glossary.csv: no such glossary"),
        ("brand\nAcme\n", "glossary.csv: a glossary needs a 'term' column (found: brand)"),
    ],
)
def test_a_bad_glossary_stops_the_run_before_any_edit(
    tmp_path, sample_campaign, sample_image, text, expected
):
    glossary = tmp_path / "glossary.csv"
    if text is not None:
        glossary.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = run(
        str(sample_campaign), "-i", str(sample_image), "--glossary", str(glossary),
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == EXIT_UNUSABLE, result.output
    assert expected in result.stderr
    assert not any(out.rglob("*.png"))
