from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import counts
from transcreate.manifest import (
    STATUSES,
    JobResult,
    count_by_status,
    formula_safe,
    matrix,
    matrix_csv,
    records_json,
)

LOCALES = ("id", "th")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


@pytest.fixture
def results() -> list[JobResult]:
    return [
        JobResult("summer", "id", "ok", uri="file:///out/summer-id.png", key="k1", seconds=1.5),
        JobResult("summer", "th", "cached", uri="file:///out/summer-th.png"),
        JobResult("flash", "id", "failed", error="model said no", attempts=3),
        JobResult("flash", "th", "skipped", error="row 3 asks only for id"),
    ]


# --- matrix ---------------------------------------------------------------------------------------


def test_matrix_shows_the_uri_of_finished_jobs(results: list[JobResult]) -> None:
    summer = matrix(results, ["summer", "flash"], LOCALES)[0]
    assert summer == {
        "variant": "summer",
        "id": "file:///out/summer-id.png",
        "th": "file:///out/summer-th.png",
    }


def test_matrix_shows_status_and_reason_of_the_others(results: list[JobResult]) -> None:
    flash = matrix(results, ["summer", "flash"], LOCALES)[1]
    assert flash == {
        "variant": "flash",
        "id": "[failed] model said no",
        "th": "[skipped] row 3 asks only for id",
    }


def test_matrix_keeps_the_variant_order(results: list[JobResult]) -> None:
    assert [row["variant"] for row in matrix(results, ["flash", "summer"], LOCALES)] == [
        "flash",
        "summer",
    ]


def test_matrix_leaves_missing_cells_empty() -> None:
    rows = matrix([JobResult("summer", "id", "ok", uri="u")], ["summer", "flash"], LOCALES)
    assert rows == [
        {"variant": "summer", "id": "u", "th": ""},
        {"variant": "flash", "id": "", "th": ""},
    ]


def test_matrix_adds_variants_it_was_not_told_about_at_the_end() -> None:
    rows = matrix([JobResult("row-7", "id", "skipped", error="bad price")], ["summer"], ["id"])
    assert [row["variant"] for row in rows] == ["summer", "row-7"]


def test_failed_cell_without_a_reason_shows_the_status() -> None:
    [row] = matrix([JobResult("summer", "id", "failed")], ["summer"], ["id"])
    assert row["id"] == "[failed]"


# --- matrix as CSV --------------------------------------------------------------------------------


def test_matrix_csv_starts_with_a_bom_and_the_header(results: list[JobResult]) -> None:
    data = matrix_csv(matrix(results, ["summer", "flash"], LOCALES), LOCALES)
    assert data.startswith("\ufeffvariant,id,th\n".encode())


def test_matrix_csv_round_trips_through_the_csv_module(results: list[JobResult]) -> None:
    rows = matrix(results, ["summer", "flash"], LOCALES)
    text = matrix_csv(rows, LOCALES).decode("utf-8-sig")
    assert list(csv.DictReader(io.StringIO(text))) == rows


def test_matrix_csv_keeps_thai_and_chinese(results: list[JobResult]) -> None:
    rows = [{"variant": "s", "id": "[failed] ไม่ได้", "th": "[failed] 失败"}]
    text = matrix_csv(rows, LOCALES).decode("utf-8-sig")
    assert "ไม่ได้" in text
    assert "失败" in text


@pytest.mark.parametrize("value", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "＝1+1"])
def test_matrix_csv_cells_cannot_be_formulas(value: str) -> None:
    text = matrix_csv([{"variant": value, "id": value, "th": ""}], LOCALES).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["variant"] == row["id"] == "'" + value


@pytest.mark.parametrize("value", ["", "summer", "file:///out/a.png", "[failed] -1", "'quoted"])
def test_harmless_cells_are_left_alone(value: str) -> None:
    assert formula_safe(value) == value


@settings(max_examples=50, deadline=None, database=None)
@given(value=st.text(max_size=20))
def test_formula_safe_never_starts_with_a_trigger(value: str) -> None:
    safe = formula_safe(value)
    assert not safe.startswith(TRIGGERS)
    assert safe.removeprefix("'") == value or safe == value


# --- records and counts ---------------------------------------------------------------------------


def test_records_json_counts_every_status(results: list[JobResult]) -> None:
    document = json.loads(records_json(results, {"campaign": "sale"}))
    assert document["campaign"] == "sale"
    assert document["counts"] == counts(ok=1, cached=1, failed=1, skipped=1)


def test_records_json_has_one_record_per_job(results: list[JobResult]) -> None:
    document = json.loads(records_json(results, {}))
    assert [(r["variant"], r["locale"], r["status"]) for r in document["jobs"]] == [
        (r.variant, r.locale, r.status) for r in results
    ]
    assert document["jobs"][0]["uri"] == "file:///out/summer-id.png"
    assert document["jobs"][2]["attempts"] == 3


def test_records_json_is_readable_utf8() -> None:
    data = records_json([JobResult("s", "th", "failed", error="ไม่ได้")], {})
    assert "ไม่ได้".encode() in data


def test_count_by_status_names_every_status_even_when_zero() -> None:
    by_status = count_by_status([JobResult("s", "id", "ok"), JobResult("s", "th", "ok")])
    assert by_status == {
        "ok": 2,
        "cached": 0,
        "failed": 0,
        "skipped": 0,
        "blocked": 0,
        "needs_review": 0,
    }
    assert tuple(by_status) == STATUSES


def test_count_by_status_of_nothing_is_all_zero() -> None:
    assert count_by_status([]) == dict.fromkeys(STATUSES, 0)
