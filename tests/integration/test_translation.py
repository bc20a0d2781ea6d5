"""Transcreation end to end against a fake Qwen-MT (DashScope compatible mode) on loopback: an
English-only sheet with --translate and a glossary, run, run again, corrected and run again."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import use_fake_model
from tests.servers.chat import FakeChat
from transcreate.errors import PermanentEditError
from transcreate.manifest import copy_of
from transcreate.request import RunRequest
from transcreate.settings import translation_settings
from transcreate.translation.chat import Ask, ChatTranslator
from transcreate.wiring import localize

KEY = "sk-translate-not-a-real-key"
SHEET = (
    "variant,headline,cta,discount,color,position\n"
    "sale,Big Sale,Shop now,30,yellow,bottom-center\n"
    "glow,Glow with Lumière,Shop now,,white,top-left\n"
)
LOCALES = ("id", "th", "zh", "vi")


@pytest.fixture
def fake(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    with FakeChat(api_key=KEY) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        yield server


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "sheet.csv").write_text(SHEET, encoding="utf-8")
    (tmp_path / "glossary.csv").write_text("term\nLumière\n", encoding="utf-8")
    Image.new("RGB", (320, 240), (40, 90, 140)).save(tmp_path / "base.png")
    return {name: tmp_path / f"{name}" for name in ("sheet.csv", "glossary.csv", "base.png")}


def request(inputs: dict[str, Path], out: Path, **changes: object) -> RunRequest:
    fields: dict[str, object] = {
        "campaign": str(inputs["sheet.csv"]),
        "image": str(inputs["base.png"]),
        "out": str(out),
        "locales": LOCALES,
        "translate": True,
        "glossary": str(inputs["glossary.csv"]),
        "retry_wait": 0,
    }
    return RunRequest(**{**fields, **changes})  # type: ignore[arg-type]


def manifest(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return json.loads((out / "sheet" / "manifest.json").read_text(encoding="utf-8"))["jobs"]


def test_an_english_sheet_becomes_every_markets_copy_under_review_then_approved(
    fake, inputs, tmp_path, caplog
):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    first = localize(request(inputs, out))
    assert first.counts["needs_review"] == 8 and first.counts["ok"] == 0
    # once per distinct text and locale: Big Sale, Shop now, Glow with Lumière × 4 locales
    assert fake.paid == 12
    ask = next(r.json() for r in fake.requests if "Lumière" in r.json()["messages"][0]["content"])
    assert ask["model"] == "qwen-mt-flash" and len(ask["messages"]) == 1
    options = ask["translation_options"]
    assert options["source_lang"] == "English"
    assert options["target_lang"] in {"Indonesian", "Thai", "Chinese", "Vietnamese"}
    assert options["terms"] == [{"source": "Lumière", "target": "Lumière"}]
    assert "Advertising copy" in options["domains"]

    jobs = {(job["variant"], job["locale"]): job for job in manifest(out)}
    sale_th = jobs["sale", "th"]
    assert dict(copy_of(sale_th["layout"]))["headline"] == "ลดครั้งใหญ่"
    assert sale_th["copy_origin"] == {"headline": "machine", "cta": "machine"}
    assert sale_th["error"].startswith("machine copy: row 2's Thai headline and button")
    for locale in LOCALES:  # the brand name is intact in every market
        assert "Lumière" in dict(copy_of(jobs["glow", locale]["layout"]))["headline"]
    assert dict(copy_of(jobs["sale", "vi"]["layout"]))["cta"] == "Mua ngay"
    assert KEY not in caplog.text and KEY not in json.dumps(manifest(out))

    table = list(
        csv.DictReader(io.StringIO((out / "sheet" / "translations.csv").read_text("utf-8-sig")))
    )
    assert len(table) == 16 and {row["origin"] for row in table} == {"machine"}
    assert (out / "sheet" / "translations-th.xlf").read_bytes().count(b"<unit ") == 4

    # A second run pays the translator nothing: the memory in the output root has every text.
    again = localize(request(inputs, out))
    assert fake.paid == 12 and again.counts["needs_review"] == 8

    # The reviewer corrects one translation and gives the sheet back: all approved, and only the
    # variant whose copy changed is made again (in each locale: the built-in editor agrees a
    # variant's headline size across its locales); the other is found stored.
    corrected = tmp_path / "corrected.csv"
    text = (out / "sheet" / "translations.csv").read_text("utf-8-sig")
    corrected.write_text(text.replace("ลดครั้งใหญ่", "ลดแรงส่งท้ายปี"), encoding="utf-8")
    approved = localize(request(inputs, out, translations=str(corrected)))
    assert fake.paid == 12
    assert approved.counts["ok"] == 4 and approved.counts["cached"] == 4
    remade = {job["variant"] for job in manifest(out) if job["status"] == "ok"}
    assert remade == {"sale"}
    jobs = {(job["variant"], job["locale"]): job for job in manifest(out)}
    assert dict(copy_of(jobs["sale", "th"]["layout"]))["headline"] == "ลดแรงส่งท้ายปี"
    assert {o for job in jobs.values() for o in job["copy_origin"].values()} == {"approved"}


def test_without_translate_a_locale_lacking_copy_is_never_ok(fake, inputs, tmp_path):  # type: ignore[no-untyped-def]
    summary = localize(request(inputs, tmp_path / "out", translate=False, locales=("vi",)))
    assert summary.counts["needs_review"] == 2 and fake.paid == 0
    for job in manifest(tmp_path / "out"):
        assert "no Vietnamese copy" in job["error"]


def test_a_failing_endpoint_fails_those_cells_with_the_reason_and_loses_nothing_else(
    fake, inputs, tmp_path
):  # type: ignore[no-untyped-def]
    fake.fault("server_error", times=100)
    summary = localize(request(inputs, tmp_path / "out", locales=("th", "en"), retries=1))
    assert summary.counts["failed"] == 2 and summary.counts["ok"] == 2  # en is the source
    failed = [job for job in manifest(tmp_path / "out") if job["status"] == "failed"]
    assert {job["locale"] for job in failed} == {"th"}
    assert all("translation: HTTP 500: InternalError" in job["error"] for job in failed)
    assert fake.calls("chat/completions") == 6  # three texts, each tried twice


def test_a_general_chat_model_gets_the_same_content_as_an_instruction(fake, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRANSCREATE_TRANSLATION_MODEL", "qwen-plus")
    translator = ChatTranslator(translation_settings({}))
    ask = Ask(
        "Glow with Lumière", "en", "vi", (("Lumière", "Lumière"),), (("Big Sale", "Giảm giá lớn"),)
    )
    answer = translator.translate(ask)
    assert "Lumière" in answer
    body = fake.requests[-1].json()
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    system = body["messages"][0]["content"]
    assert "into Vietnamese" in system and "'Lumière' as 'Lumière'" in system
    assert "Big Sale" in system and "translation_options" not in body


def test_a_refused_key_is_a_sentence_without_the_key(fake, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    fake.echo_key = True
    monkeypatch.setenv("TRANSCREATE_TRANSLATION_API_KEY", "sk-wrong-key-0123456789")
    translator = ChatTranslator(translation_settings({}))
    with pytest.raises(PermanentEditError) as raised:
        translator.translate(Ask("Big Sale", "en", "th"))
    assert "HTTP 401: invalid_api_key" in str(raised.value)
    assert "sk-wrong-key-0123456789" not in str(raised.value)


def test_a_throttled_call_is_retried(fake, inputs, tmp_path):  # type: ignore[no-untyped-def]
    fake.fault("throttled")
    summary = localize(request(inputs, tmp_path / "out", locales=("th",)))
    assert summary.counts["needs_review"] == 2 and fake.paid == 3
    assert fake.calls("chat/completions") == 4


def test_a_call_that_times_out_is_retried_within_the_configured_timeout(fake, inputs, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "transcreate.toml").write_text("[translation]\ntimeout = 1\n", encoding="utf-8")
    fake.fault("timeout")
    summary = localize(request(inputs, tmp_path / "out", locales=("th",)))
    assert summary.counts["needs_review"] == 2
    assert fake.calls("chat/completions") == 4  # three texts, one of them twice


def test_a_headline_no_legible_size_fits_is_asked_for_shorter(fake, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "s.csv").write_text("variant,headline,color\nsale,Big Sale,white\n", "utf-8")
    Image.new("RGB", (640, 480), (40, 90, 140)).save(tmp_path / "b.png")
    long = "ลดราคาครั้งใหญ่ที่สุดแห่งปีสำหรับสมาชิกทุกคนทั้งร้านเฉพาะวันนี้วันเดียวเท่านั้นนะ" * 3
    fake.answers = [long, "ลดใหญ่"]
    inputs = {"sheet.csv": tmp_path / "s.csv", "base.png": tmp_path / "b.png",
              "glossary.csv": tmp_path / "none"}  # fmt: skip
    # at 300x250 no legible size fits it at all: the job would fail
    done = localize(request(inputs, tmp_path / "out", locales=("th",), sizes=("300x250",),
                            glossary=""))  # fmt: skip
    assert done.counts["needs_review"] == 1
    second = fake.requests[1].json()["translation_options"]["domains"]
    budget = int(re.search(r"At most (\d+) characters", second).group(1))  # type: ignore[union-attr]
    assert 4 <= budget < len(long)
    [job] = json.loads((tmp_path / "out" / "s" / "manifest.json").read_text("utf-8"))["jobs"]
    assert dict(copy_of(job["layout"]))["headline"] == "ลดใหญ่"
    assert "cannot fit" in job["error"] and f"at most {budget} characters" in job["error"]
