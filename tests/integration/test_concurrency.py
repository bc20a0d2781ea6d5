"""One knob for the work in flight: the run's concurrency, lowered only by the config file's
max_concurrency or a Prefect global concurrency limit, and the run says which one decided."""

from __future__ import annotations

import pytest

from tests.conftest import use_fake_model
from tests.servers.openai import FakeOpenAIImages
from transcreate.request import RunRequest
from transcreate.wiring import build, localize

pytestmark = pytest.mark.slow


def sheet(tmp_path, variants: int):
    path = tmp_path / "many.csv"
    rows = "".join(f"v{n},Sale {n}\n" for n in range(variants))
    path.write_text("variant,headline\n" + rows, encoding="utf-8")
    return path


def test_the_runs_concurrency_is_the_number_of_calls_in_flight(tmp_path, sample_image, monkeypatch):
    with FakeOpenAIImages(latency=1.0, echo=True) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        request = RunRequest(
            campaign=str(sheet(tmp_path, 24)),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en",
            backend="openai",
            concurrency=12,
        )
        adapters = build(request)
        assert (adapters.concurrency, adapters.bound) == (12, "the run's concurrency (12)")
        summary = localize(request, adapters=adapters)
        assert summary.counts["ok"] == 24
        # Never more than asked; more than the old per-endpoint default of 8 (a busy machine may
        # start the twelfth call after the first answer, so "exactly 12" would be a timing test).
        assert 8 < server.max_in_flight <= 12


def test_the_config_files_max_concurrency_can_only_lower_it(tmp_path, sample_image, monkeypatch):
    with FakeOpenAIImages(latency=0.2, echo=True) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        (tmp_path / "transcreate.toml").write_text("[backends.openai]\nmax_concurrency = 3\n")
        request = RunRequest(
            campaign=str(sheet(tmp_path, 12)),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en",
            backend="openai",
            concurrency=8,
        )
        adapters = build(request)
        assert adapters.concurrency == 3
        assert adapters.bound == "max_concurrency = 3 in [backends.openai] of the config"
        localize(request, adapters=adapters)
        assert server.max_in_flight <= 3
        higher = build(request.model_copy(update={"concurrency": 2}))
        assert (higher.concurrency, higher.bound) == (2, "the run's concurrency (2)")


def test_a_job_waiting_for_the_same_edit_in_flight_holds_no_slot(
    tmp_path, sample_image, monkeypatch
):
    # v0 and v1 ask the same edit: v1 waits for v0's result (the result cache) and must not hold
    # one of the two slots meanwhile, or w0 would wait behind a job that calls nothing.
    path = tmp_path / "same.csv"
    path.write_text("variant,headline\nv0,Sale\nv1,Sale\nw0,Other\n", encoding="utf-8")
    with FakeOpenAIImages(latency=1.0, echo=True) as server:
        use_fake_model(monkeypatch, tmp_path, server)
        request = RunRequest(
            campaign=str(path),
            image=str(sample_image),
            out=str(tmp_path / "out"),
            locales="en",
            backend="openai",
            concurrency=2,
        )
        summary = localize(request)
        assert summary.counts["ok"] == 3
        assert server.edits == 2  # one call for v0 and v1
        assert server.max_in_flight == 2  # w0's call went alongside v0's
