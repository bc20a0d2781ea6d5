"""Whole runs against S3 (SeaweedFS on loopback): inputs from s3://, outputs with links, resume."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import counts, use_fake_model
from tests.integration.conftest import BUCKET
from tests.servers.openai import FakeOpenAIImages
from transcreate.request import RunRequest
from transcreate.wiring import localize

pytestmark = pytest.mark.slow


@pytest.fixture
def prefix(seaweed) -> str:
    return f"runs/{secrets.token_hex(4)}"


@pytest.fixture
def inputs(seaweed, sample_campaign, sample_image) -> tuple[str, str]:
    client = seaweed.client()
    client.put_object(
        Bucket=BUCKET, Key="inputs/skincare-sale.csv", Body=sample_campaign.read_bytes()
    )
    client.put_object(Bucket=BUCKET, Key="inputs/creative.png", Body=sample_image.read_bytes())
    return f"s3://{BUCKET}/inputs/skincare-sale.csv", f"s3://{BUCKET}/inputs/creative.png"


def read(seaweed, key: str) -> bytes:
    return seaweed.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()


def stored_pngs(seaweed, prefix: str) -> list[str]:
    listing = seaweed.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".png")]


def test_a_campaign_from_s3_lands_in_s3_with_links(seaweed, inputs, prefix):
    campaign, image = inputs
    out = f"s3://{BUCKET}/{prefix}"
    # one locale: what is asked of S3 is the same for six outputs as for 22
    summary = localize(RunRequest(campaign=campaign, image=image, out=out, locales="th"))
    assert summary.counts["ok"] == 6
    assert summary.manifest_json == f"s3://{BUCKET}/{prefix}/skincare-sale/manifest.json"
    manifest = json.loads(read(seaweed, f"{prefix}/skincare-sale/manifest.json"))
    job = next(j for j in manifest["jobs"] if j["status"] == "ok")
    assert job["uri"].startswith(f"s3://{BUCKET}/{prefix}/skincare-sale/{job['locale']}/")
    assert "X-Amz-Signature=" in job["link"]
    fetched = httpx.get(job["link"])
    assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG")
    key = job["uri"].removeprefix(f"s3://{BUCKET}/")
    head = seaweed.client().head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "image/png"
    assert head["Metadata"]["variant"] == job["variant"] and head["Metadata"]["key"] == job["key"]
    matrix = read(seaweed, f"{prefix}/skincare-sale/manifest.csv").decode("utf-8-sig")
    assert matrix.count("X-Amz-Signature=") == 6


def test_a_rerun_into_s3_is_all_cached(seaweed, inputs, prefix):
    campaign, image = inputs
    out = f"s3://{BUCKET}/{prefix}"
    request = RunRequest(campaign=campaign, image=image, out=out, locales="th")
    localize(request)
    again = localize(request)
    assert again.counts == counts(cached=6)


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "transcreate.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def model(tmp_path):
    with FakeOpenAIImages(api_key="sk-test", latency=0.3) as server:
        # the CLI runs in a subprocess: it gets the variables, not monkeypatch
        yield server, {**server.environment(), "TRANSCREATE_CACHE_DIR": str(tmp_path / "cache")}


def test_a_killed_run_resumes_without_paying_twice(seaweed, inputs, prefix, model):
    server, env = model
    campaign, image = inputs
    args = ("run", campaign, "--image", image, "--out", f"s3://{BUCKET}/{prefix}")
    # two locales (11 jobs) show a kill and a resume as well as four would (22); both in a
    # script the model draws, so neither process loads the compositor's Thai word breaking
    args += ("--backend", "openai", "--concurrency", "2", "--locales", "id,en")
    first = cli(*args, env=env)
    deadline = time.monotonic() + 60
    while len(stored_pngs(seaweed, prefix)) < 4:
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()[0]
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(stored_pngs(seaweed, prefix))

    second = cli(*args, env=env)
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    manifest = json.loads(read(seaweed, f"{prefix}/skincare-sale/manifest.json"))
    # what was stored is found again, and only the rest is edited (an upload the store was
    # still finishing at the kill may land after the count: hence >=)
    assert manifest["counts"]["cached"] >= done_before
    assert manifest["counts"]["ok"] + manifest["counts"]["cached"] == 11
    # every job was paid for once, except the calls in flight when the first run was killed
    assert server.edits <= 11 + 2  # 2: the run's concurrency


def test_a_missing_bucket_fails_before_any_model_call(seaweed, inputs, model):
    server, env = model
    campaign, image = inputs
    run = cli(
        "run",
        campaign,
        "--image",
        image,
        "--out",
        "s3://no-such-bucket/x",
        "--backend",
        "openai",
        env=env,
    )
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 2
    assert "no-such-bucket" in output and "no such bucket" in output
    assert server.edits == 0


def test_an_unreachable_endpoint_fails_before_any_model_call(
    seaweed, sample_campaign, sample_image, model
):
    server, env = model
    run = cli(
        "run",
        str(sample_campaign),
        "--image",
        str(sample_image),
        "--out",
        f"s3://{BUCKET}/x",
        "--backend",
        "openai",
        env={**env, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"},
    )
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 2 and "127.0.0.1:9" in output
    assert server.edits == 0


def test_two_runs_at_once_leave_a_whole_manifest(seaweed, inputs, prefix):
    campaign, image = inputs
    out = f"s3://{BUCKET}/{prefix}"
    request = RunRequest(campaign=campaign, image=image, out=out, locales="th")
    threads = [threading.Thread(target=localize, args=(request,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    manifest = json.loads(read(seaweed, f"{prefix}/skincare-sale/manifest.json"))
    assert len(manifest["jobs"]) == 6
    assert {j["status"] for j in manifest["jobs"]} <= {"ok", "cached"}


def test_a_creative_in_s3_reaches_dashscope_as_a_link_not_bytes(
    seaweed, inputs, prefix, tmp_path, monkeypatch
):
    from tests.servers.dashscope import FakeDashScope

    campaign, image = inputs
    with FakeDashScope(api_key="sk-test") as server:
        use_fake_model(monkeypatch, tmp_path, server)
        summary = localize(
            RunRequest(
                campaign=campaign,
                image=image,
                out=f"s3://{BUCKET}/{prefix}",
                backend="dashscope",
                locales="id",  # a script the model draws: every job goes to it
            )
        )
        sent = [
            request.json()["input"]["messages"][0]["content"][0]["image"]
            for request in server.requests
            if request.path.endswith("/generation")
        ]
    assert summary.counts["ok"] == 6
    assert sent and all(link.startswith("http://127.0.0.1") for link in sent)
    assert all("X-Amz-Signature=" in link for link in sent)  # a presigned link, fetched by the fake
