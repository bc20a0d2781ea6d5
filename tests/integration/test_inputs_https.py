"""Inputs a campaign manager can hand over: links served by a real server on loopback, pasted rows,
and local paths whose errors say where they looked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import counts
from tests.servers.base import FakeServer, Reply, Request
from transcreate.campaign import read_campaign
from transcreate.errors import CampaignError
from transcreate.inputs import campaign_input, image_input, read_input
from transcreate.request import RunRequest
from transcreate.settings import ALLOW_PRIVATE_VARIABLE
from transcreate.wiring import localize


class FileServer(FakeServer):
    """Serves the replies it is given, by path; 404 for anything else."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, Reply] = {}

    def route(self, request: Request) -> Reply:
        return self.files.get(request.path) or Reply(404, b"not here")


LOOPBACK = frozenset({"127.0.0.1"})  # what the root reads from the opt-in below


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    with FileServer() as server:
        # The explicit opt-in a test (or a private network's file server) needs: this host only.
        monkeypatch.setenv(ALLOW_PRIVATE_VARIABLE, "127.0.0.1")
        yield server  # type: ignore[misc]


def test_a_published_sheet_link_is_read_with_its_served_name(files, sample_campaign):
    files.files["/spreadsheets/d/abc/export"] = Reply(
        200,
        sample_campaign.read_bytes(),
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="Skincare Sale - Sheet1.csv"',
        },
    )
    source = campaign_input(
        f"{files.url}/spreadsheets/d/abc/export?format=csv", allow_private=LOOPBACK
    )
    campaign = read_campaign(source.name, data=source.data)
    assert source.name == "Skincare Sale - Sheet1.csv"
    assert len(campaign.variants) == len(read_campaign(sample_campaign).variants)


def test_an_export_link_without_a_file_name_still_reads_as_csv(files, sample_campaign):
    files.files["/export"] = Reply(200, sample_campaign.read_bytes(), {"Content-Type": "text/csv"})
    source = campaign_input(f"{files.url}/export", allow_private=LOOPBACK)
    assert source.name == "export.csv"
    assert read_campaign(source.name, data=source.data).variants


def test_a_run_takes_its_campaign_and_image_from_links(
    files, sample_campaign, sample_image, tmp_path
):
    files.files["/sale.csv"] = Reply(
        200, sample_campaign.read_bytes(), {"Content-Type": "text/csv"}
    )
    files.files["/creative.png"] = Reply(
        200, sample_image.read_bytes(), {"Content-Type": "image/png"}
    )
    request = RunRequest(
        campaign=f"{files.url}/sale.csv",
        image=f"{files.url}/creative.png",
        locales=("en",),
        out=str(tmp_path / "out"),
    )
    summary = localize(request)
    variants = len(read_campaign(sample_campaign).variants)
    assert summary.campaign == "sale"
    assert summary.counts["ok"] + summary.counts["skipped"] == variants
    assert summary.counts["failed"] == 0


def test_an_image_over_the_limit_is_refused_by_its_declared_length(files):
    files.files["/big.png"] = Reply(
        200, b"\x89PNG" + bytes(2_000_000), {"Content-Type": "image/png"}
    )
    with pytest.raises(
        CampaignError, match=r"big\.png: the base image is 2,000,004 bytes; the limit is 1,000,000"
    ):
        read_input(
            f"{files.url}/big.png", what="image", max_bytes=1_000_000, allow_private=LOOPBACK
        )


def test_an_image_over_the_limit_without_a_length_is_cut_off_while_streaming(files):
    chunks = iter([bytes(400_000)] * 5)  # no Content-Length: the size shows only as it arrives
    files.files["/stream.png"] = Reply(200, headers={"Content-Type": "image/png"}, chunks=chunks)
    with pytest.raises(CampaignError, match=r"stream\.png: the base image is over 1,000,000 bytes"):
        read_input(
            f"{files.url}/stream.png", what="image", max_bytes=1_000_000, allow_private=LOOPBACK
        )


def test_a_web_page_instead_of_the_file_is_refused_with_what_to_use(files):
    files.files["/view"] = Reply(200, b"<html>Sign in</html>", {"Content-Type": "text/html"})
    with pytest.raises(CampaignError, match=r"/view: this is a web page, not the base image; use"):
        read_input(f"{files.url}/view", what="image", max_bytes=1_000_000, allow_private=LOOPBACK)


def test_a_response_that_is_not_an_image_is_refused(files):
    files.files["/x.png"] = Reply(200, b"{}", {"Content-Type": "application/json"})
    with pytest.raises(
        CampaignError, match=r"x\.png: the server sent application/json, not an image"
    ):
        read_input(f"{files.url}/x.png", what="image", max_bytes=1_000_000, allow_private=LOOPBACK)


def test_a_missing_file_is_a_404_sentence(files):
    with pytest.raises(CampaignError, match=r"/gone\.csv: not found \(HTTP 404\); check the link"):
        campaign_input(f"{files.url}/gone.csv", allow_private=LOOPBACK)


def test_a_redirect_to_a_private_address_is_refused(files):
    port = files.url.rsplit(":", 1)[1]
    files.files["/moved.csv"] = Reply(302, headers={"Location": f"https://localhost:{port}/x.csv"})
    files.files["/x.csv"] = Reply(200, b"variant,headline\na,b\n", {"Content-Type": "text/csv"})
    with pytest.raises(CampaignError, match=r"redirected to .*localhost.*private address"):
        campaign_input(f"{files.url}/moved.csv", allow_private=LOOPBACK)
    assert files.calls("/x.csv") == 0  # refused before any request went there


def test_a_redirect_is_followed_when_it_keeps_to_the_rule(files, sample_campaign):
    files.files["/moved.csv"] = Reply(302, headers={"Location": "/sale.csv"})
    files.files["/sale.csv"] = Reply(
        200, sample_campaign.read_bytes(), {"Content-Type": "text/csv"}
    )
    assert campaign_input(f"{files.url}/moved.csv", allow_private=LOOPBACK).name == "sale.csv"


def test_without_the_opt_in_a_loopback_link_is_refused(files, monkeypatch):
    monkeypatch.delenv(ALLOW_PRIVATE_VARIABLE)
    https_link = files.url.replace("http://", "https://") + "/sale.csv"
    with pytest.raises(CampaignError, match=r"private address \(127\.0\.0\.1\)"):
        campaign_input(https_link)
    with pytest.raises(CampaignError, match=r"only https:// links are fetched"):
        campaign_input(f"{files.url}/sale.csv")
    assert files.requests == []


def test_pasted_csv_rows_give_the_same_row_errors_as_the_file(tmp_path):
    text = (
        "variant,headline,headline:th,cta,cta:th,price,currency,discount,color,position\n"
        "summer,Big Sale,ลดใหญ่,Shop now,ช้อปเลย,10,USD,20,yellow,bottom-center\n"
        "bad,Sale,Buy,ten,USD,20,yellow,upside-down\n"
    )
    (tmp_path / "sheet.csv").write_text(text, encoding="utf-8")
    from_file = read_campaign(tmp_path / "sheet.csv")
    source = campaign_input("", text)
    pasted = read_campaign(source.name, data=source.data)
    assert [v.variant for v in pasted.variants] == ["summer"]
    assert [str(p).replace("pasted rows", "sheet.csv") for p in pasted.problems] == [
        str(p) for p in from_file.problems
    ]
    assert str(pasted.problems[0]).startswith("pasted rows, row 3, column ")


def test_a_run_from_pasted_rows(sample_image, tmp_path):
    text = (
        "variant,headline,headline:th,cta,cta:th,price,currency,discount,color,position\n"
        "summer,Big Sale,ลดใหญ่,Shop now,ช้อปเลย,10,USD,20,yellow,bottom-center\n"
    )
    request = RunRequest(
        rows=text, image=str(sample_image), locales=("en", "th"), out=str(tmp_path)
    )
    summary = localize(request)
    assert summary.campaign == "pasted-rows"
    assert summary.counts == counts(ok=2)


def test_a_missing_local_path_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CampaignError) as caught:
        campaign_input("sheets/sale.csv")
    message = str(caught.value)
    assert message.startswith("sheets/sale.csv: no such campaign file; looked for ")
    assert str(tmp_path / "sheets" / "sale.csv") in message
    assert f"working folder, {tmp_path})" in message


def test_an_image_link_is_named_by_its_path_not_its_signature(files, sample_image):
    files.files["/bucket/creative.png"] = Reply(
        200, sample_image.read_bytes(), {"Content-Type": "application/octet-stream"}
    )
    source = image_input(
        f"{files.url}/bucket/creative.png?X-Amz-Signature=abc", 5_000_000, allow_private=LOOPBACK
    )
    assert (source.name, source.data) == ("creative.png", sample_image.read_bytes())


def test_a_link_whose_headers_trickle_in_is_cut_off_at_its_whole_deadline(monkeypatch) -> None:
    import socket
    import threading
    import time

    import transcreate.inputs as inputs

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:  # a byte of the status line a tenth of a second: never a read timeout
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n" * 20:
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    monkeypatch.setattr(inputs, "DEADLINE", 0.5)
    started = time.monotonic()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.png"
    try:
        with pytest.raises(CampaignError, match="did not answer in time"):
            image_input(url, 1 << 20, allow_private=LOOPBACK)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 5  # the status line alone would take 86 s
