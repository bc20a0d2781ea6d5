"""The flow's fan-out on a local Dask cluster of worker processes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import counts
from transcreate.request import RunRequest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def test_a_campaign_renders_on_dask_workers(sample_campaign, sample_image, tmp_path, monkeypatch):
    # one worker process: the batches cross a process boundary through Dask all the same
    monkeypatch.setenv("TRANSCREATE_DASK_WORKERS", "1")
    from transcreate.flows.dask import dask_task_runner
    from transcreate.flows.localize import flow_parameters, localize_campaign

    flow = localize_campaign.with_options(task_runner=dask_task_runner())
    # two rows: a batch crosses to the worker and back as it would with two hundred
    rows = "\n".join(sample_campaign.read_text(encoding="utf-8").splitlines()[:3])
    request = RunRequest(rows=rows, image=str(sample_image), out=str(tmp_path), locales="id")
    summary = flow(**flow_parameters(request))
    assert summary.counts == counts(ok=2)
    manifest = json.loads((tmp_path / summary.campaign / "manifest.json").read_text("utf-8"))
    assert sum(job["status"] == "ok" for job in manifest["jobs"]) == 2


def test_the_dask_runner_uses_an_existing_cluster_when_given(monkeypatch):
    monkeypatch.setenv("TRANSCREATE_DASK_ADDRESS", "tcp://scheduler.example:8786")
    from transcreate.flows.dask import dask_task_runner

    assert dask_task_runner().address == "tcp://scheduler.example:8786"
