"""Guardrails in whole runs: blocked jobs never reach a model, checks flag bad outputs, audit."""

from __future__ import annotations

import json

import pytest

from tests.conftest import use_fake_model
from tests.servers.base import Fault, Reply
from tests.servers.openai import FakeOpenAIImages, parse_multipart
from transcreate.request import RunRequest
from transcreate.wiring import localize

pytestmark = pytest.mark.slow

SHEET = (
    "variant,headline,headline:th,cta,cta:th\n"
    "good,Big Sale,ส่วนลดใหญ่,Shop now,ช้อปเลย\n"
    "sneaky,Ｆａｃｅ　ｓｗａｐ with a celebrity,สลับใบหน้ากับดารา,Buy,ซื้อ\n"
    "forgery,Fresh stock,ปลอมบัตรประชาชนได้ไว,Buy,ซื้อ\n"
)


@pytest.fixture
def sheet(tmp_path):
    path = tmp_path / "guarded.csv"
    path.write_text(SHEET, encoding="utf-8")
    return path


@pytest.fixture
def model(tmp_path, monkeypatch):
    with FakeOpenAIImages(api_key="sk-guard-secret") as server:
        use_fake_model(monkeypatch, tmp_path, server)
        yield server


def records(out, campaign="guarded"):
    return json.loads((out / campaign / "manifest.json").read_text(encoding="utf-8"))["jobs"]


def test_policy_blocked_jobs_are_never_sent_and_say_why(sheet, sample_image, tmp_path, model):
    summary = localize(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en,th",
            backend="openai",
        )
    )
    by_cell = {(r["variant"], r["locale"]): r for r in records(tmp_path / "out")}
    assert by_cell["good", "en"]["status"] == "ok" and by_cell["good", "th"]["status"] == "ok"
    assert by_cell["sneaky", "en"]["status"] == "blocked"
    assert "face-identity" in by_cell["sneaky", "en"]["error"]
    assert by_cell["forgery", "th"]["status"] == "blocked"
    assert "forged-documents" in by_cell["forgery", "th"]["error"]
    assert by_cell["forgery", "en"]["status"] == "ok"  # the English copy is harmless
    prompts = [parse_multipart(r)["prompt"][1].decode() for r in model.requests]
    # good/en and forgery/en; good/th's copy is set by the compositor (mode auto), no model call
    assert len(prompts) == 2 and not any("swap" in p.lower() for p in prompts)
    assert summary.counts["blocked"] == 3 and not summary.succeeded


def test_an_instruction_over_the_limit_is_blocked_for_a_model_but_not_for_overlay(
    sheet, sample_image, tmp_path, model
):
    # 40: below the 51 characters of the instruction sent (Chinese, the copy quoted in it)
    common = {"campaign": str(sheet), "image": str(sample_image), "locales": "en"}
    summary = localize(
        RunRequest(**common, out=str(tmp_path / "m"), backend="openai", max_instruction_chars=40)
    )
    good = next(r for r in records(tmp_path / "m") if r["variant"] == "good")
    assert good["status"] == "blocked" and "the limit is 40" in good["error"]
    assert model.edits == 0
    local = localize(RunRequest(**common, out=str(tmp_path / "l"), max_instruction_chars=40))
    assert local.counts["ok"] == 2 and summary.counts["ok"] == 0


def test_checks_pass_the_local_editors_outputs(sample_campaign, sample_image, tmp_path):
    summary = localize(
        RunRequest(
            campaign=str(sample_campaign),
            image=str(sample_image),
            out=str(tmp_path),
            locales="th,zh",
            checks=True,
        )
    )
    assert summary.counts["ok"] == 11 and summary.counts["needs_review"] == 0


def test_checks_flag_a_model_output_without_the_copy(sheet, sample_image, tmp_path, model):
    model.echo = True  # the "model" hands the creative back untouched: no copy on it
    summary = localize(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en",
            backend="openai",
            checks=True,
        )
    )
    good = next(r for r in records(tmp_path / "out") if r["variant"] == "good")
    assert good["status"] == "needs_review" and "copy check" in good["error"]
    assert good["uri"]  # kept for the reviewer
    assert summary.counts["needs_review"] == 2


def test_the_audit_log_has_a_line_per_attempt_and_no_secrets(sheet, sample_image, tmp_path, model):
    busy = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit"}}
    model.faults.append(Fault(Reply.json(busy, 429, **{"Retry-After": "0"}), "/images/edits"))
    localize(
        RunRequest(
            campaign=str(sheet),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en",
            backend="openai",
            retry_wait=0.01,
        )
    )
    [log] = (tmp_path / "out" / "guarded" / "audit").glob("*.jsonl")
    text = log.read_text(encoding="utf-8")
    every = [json.loads(line) for line in text.splitlines()]
    # A line when each call is sent (so a killed run's paid calls are on record), one with its
    # outcome: two jobs sent, one of them twice.
    assert [line["status"] for line in every].count("sent") == 3
    lines = [line for line in every if line["status"] != "sent"]
    assert sorted(line["status"] for line in lines) == ["ok", "ok", "retryable"]
    assert {"time", "run", "job_key", "backend", "attempt", "seconds", "bytes_in"} <= set(lines[0])
    assert "sk-guard-secret" not in text and "iVBOR" not in text  # no key, no base64 PNG


def test_a_policy_of_ones_own_is_taken_from_the_environment(
    sheet, sample_image, tmp_path, monkeypatch
):
    policy = tmp_path / "strict.toml"
    policy.write_text(
        'version = "house-1"\n\n[[rule]]\nid = "no-sales"\ndescription = "no sales talk"\n'
        '[rule.phrases]\nen = ["big sale"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TRANSCREATE_POLICY", str(policy))
    localize(
        RunRequest(campaign=str(sheet), image=str(sample_image), out=str(tmp_path), locales="en")
    )
    good = next(r for r in records(tmp_path) if r["variant"] == "good")
    assert (
        good["status"] == "blocked" and "house-1" in good["error"] and "no-sales" in good["error"]
    )
