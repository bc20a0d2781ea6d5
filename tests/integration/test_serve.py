"""`transcreate serve`: the output folder over HTTP, read-only and held inside that folder."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import counts
from tests.fakes import ScriptedEditor
from transcreate.errors import StorageError
from transcreate.manifest import JobResult
from transcreate.request import RunRequest
from transcreate.serve import base_url, confined_path, make_server
from transcreate.wiring import build, localize

PNG = b"\x89PNG\r\n\x1a\nnot decoded by the server"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "sale" / "th").mkdir(parents=True)
    (out / "sale" / "th" / "summer-0123abcd.png").write_bytes(PNG)
    (out / "sale" / "index.html").write_text("<!doctype html><title>g</title>", encoding="utf-8")
    (out / "sale" / "manifest.csv").write_text("variant,th\n", encoding="utf-8")
    (out / "sale" / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    return out


@pytest.fixture
def served(folder: Path) -> Iterator[str]:
    server = make_server(folder, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield base_url(server)
    finally:
        server.shutdown()
        server.server_close()


def request(base: str, path: str, method: str = "GET", body: bytes | None = None) -> Any:
    """A request whose path goes out byte for byte (no client-side dot-segment clean-up)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request(method, path, body=body)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_a_png_is_served_as_image_png(served):
    response = request(served, "/sale/th/summer-0123abcd.png")
    assert response.status == 200
    assert response.getheader("Content-Type") == "image/png"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.body == PNG


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/sale/index.html", "text/html; charset=utf-8"),
        ("/sale/", "text/html; charset=utf-8"),  # the folder opens its gallery page
        ("/sale/manifest.csv", "text/csv; charset=utf-8"),
        ("/sale/manifest.json", "application/json"),
    ],
)
def test_the_manifest_and_the_gallery_have_their_content_types(served, path, content_type):
    response = request(served, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == content_type


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/sale/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/sale/%2E%2E/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
    ],
)
def test_a_path_out_of_the_folder_is_refused(served, path):
    response = request(served, path)
    assert response.status == 403
    assert b"outside" not in response.body


def test_an_absolute_path_is_read_inside_the_folder_not_from_the_disk(served, folder):
    secret = folder.parent / "secret.txt"
    assert request(served, str(secret)).status == 404
    assert request(served, f"//{secret}").status == 404


def test_a_symlink_out_of_the_folder_is_refused(served, folder):
    (folder / "sale" / "link.txt").symlink_to(folder.parent / "secret.txt")
    response = request(served, "/sale/link.txt")
    assert response.status == 403
    assert b"outside" not in response.body


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_the_folder_cannot_be_written(served, folder, method):
    response = request(served, "/sale/manifest.csv", method, body=b"=HYPERLINK()")
    assert response.status == 501
    assert (folder / "sale" / "manifest.csv").read_text(encoding="utf-8") == "variant,th\n"


def test_head_answers_without_a_body(served):
    response = request(served, "/sale/th/summer-0123abcd.png", "HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(PNG))
    assert response.body == b""


def test_confined_path_keeps_to_the_root(folder):
    root = folder.resolve()
    assert confined_path(root, "/sale/manifest.csv") == root / "sale" / "manifest.csv"
    assert confined_path(root, "/sale/manifest.csv?x=1#y") == root / "sale" / "manifest.csv"
    assert confined_path(root, "/") == root
    assert confined_path(root, "/sale/%2e%2e/%2e%2e/secret.txt") is None
    assert confined_path(root, "sale/manifest.csv") is None  # not an absolute request path


def test_links_of_a_run_open_over_the_served_folder(
    folder, served, sample_campaign, sample_image, monkeypatch
):
    monkeypatch.setenv("TRANSCREATE_OUTPUT_BASE_URL", served)
    request_ = RunRequest(
        campaign=str(sample_campaign), image=str(sample_image), locales=("th",), out=str(folder)
    )
    # made by a scripted editor through the root: the links are the subject, not the copy
    summary = localize(request_, adapters=build(request_, editor=ScriptedEditor()))
    assert summary.counts["failed"] == 0
    document = json.loads((folder / "skincare-sale" / "manifest.json").read_text("utf-8"))
    done = [JobResult(**job) for job in document["jobs"] if job["status"] == "ok"]
    assert done and all(job.link and job.link.startswith(served) for job in done)
    assert all(job.uri and job.uri.startswith("file://") for job in done)  # the stable name
    response = request(served, urlsplit(done[0].link or "").path)
    assert (response.status, response.getheader("Content-Type")) == (200, "image/png")
    assert response.body == Path(urlsplit(done[0].uri or "").path).read_bytes()


def test_the_command_serves_on_loopback_by_default(folder):
    process = subprocess.Popen(
        [sys.executable, "-m", "transcreate.cli", "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,  # the address is the command's result: stdout, for scripts
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline, url = time.monotonic() + 60, ""
        assert process.stdout is not None
        while not url and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("serving "):
                url = line.split(" at ", 1)[1].split()[0]
            elif not line and process.poll() is not None:
                break
        assert url.startswith("http://127.0.0.1:")
        response = request(url, "/sale/th/summer-0123abcd.png")
        assert (response.status, response.body) == (200, PNG)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_run_counts_stay_as_before_with_a_base_url(folder, served, sample_image, monkeypatch):
    # The base URL changes links, never what is made or found again.
    monkeypatch.setenv("TRANSCREATE_OUTPUT_BASE_URL", served)
    text = "variant,headline,cta,price,currency\nsummer,Big Sale,Shop,10,USD\n"
    first = localize(
        RunRequest(rows=text, image=str(sample_image), locales=("en",), out=str(folder))
    )
    again = localize(
        RunRequest(rows=text, image=str(sample_image), locales=("en",), out=str(folder))
    )
    assert (first.counts, again.counts) == (counts(ok=1), counts(cached=1))


def test_a_review_staging_folder_links_under_the_served_folder(folder, served, monkeypatch):
    from transcreate.settings import storage_settings
    from transcreate.storage import open_storage, staging_destination

    monkeypatch.setenv("TRANSCREATE_OUTPUT_BASE_URL", served)  # read by the root, as a run's is
    staging = open_storage(staging_destination(str(folder), "run-1"), storage_settings({}))
    staging.put("sale/th/a-12345678.png", PNG, "image/png")
    link = staging.url("sale/th/a-12345678.png")
    assert link == f"{served}_review/run-1/sale/th/a-12345678.png"
    response = request(served, urlsplit(link).path)
    assert (response.status, response.body) == (200, PNG)


def test_a_folder_that_does_not_exist_yet_is_made_and_served(tmp_path):
    # a manager starts the desk first; the first run fills the folder later
    server = make_server(tmp_path / "out", "127.0.0.1", 0)
    try:
        assert (tmp_path / "out").is_dir()
    finally:
        server.server_close()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        make_server(tmp_path / "a-file", "127.0.0.1", 0)
