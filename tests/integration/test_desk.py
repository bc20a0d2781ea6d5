"""The campaign desk over HTTP (its Starlette app in this process): uploads checked like every
input, the sheet previewed with each problem where it is, a correction, an embedded run to the
end, its creatives by size with their copy, the zip, and the guards every POST and file passes."""

from __future__ import annotations

import html
import io
import json
import re
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import uvicorn
from PIL import Image

from transcreate.desk.app import MAX_UPLOAD, make_app
from transcreate.desk.share import opened, sign
from transcreate.inputs import MAX_CAMPAIGN_BYTES


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app on a loopback port, as `transcreate serve` runs it; its address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


SHEET = (
    "variant,headline,headline:th,cta,cta:th,discount,color,position\n"
    "spring,Spring Sale,ลดรับหน้าร้อน,Shop now,ช้อปเลย,30,yellow,top-left\n"
)
BAD_SHEET = SHEET + "autumn,Autumn Sale,ลดฤดูใบไม้ร่วง,Shop,ช้อป,fifty,white,top-left\n"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    with served(make_app(tmp_path / "out", secret="s")) as url, httpx.Client(base_url=url) as http:
        yield http


def png(size: tuple[int, int] = (320, 320)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (245, 230, 220))
    image.paste((30, 120, 140), (120, 120, 200, 260))
    image.save(buffer, "PNG")
    return buffer.getvalue()


def form_token(client: httpx.Client, path: str = "/") -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found
    return found.group(1)


def upload(client: httpx.Client, sheet: str = SHEET, image: bytes | None = None, **extra: str):  # type: ignore[no-untyped-def]
    files = {
        "image": ("product.png", image if image is not None else png(), "image/png"),
        "campaign": ("spring.csv", sheet.encode(), "text/csv"),
    }
    data = {"csrf": form_token(client), **extra}
    return client.post("/_desk/campaigns", files=files, data=data, follow_redirects=False)


def test_an_upload_is_kept_as_a_campaign_of_its_own_and_previewed(client: httpx.Client) -> None:
    first, second = upload(client), upload(client)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] != second.headers["location"]  # never overwritten
    page = client.get(first.headers["location"]).text
    assert "1 row ready" in page and "Spring Sale" in page and "ลดรับหน้าร้อน" in page
    home = client.get("/").text
    assert home.count("/_desk/c/spring-") == 2


def test_a_bad_row_is_shown_where_it_is_and_a_correction_clears_it(client: httpx.Client) -> None:
    where = upload(client, BAD_SHEET).headers["location"]
    page = client.get(where).text
    assert "1 row ready" in page and "1 problem" in page
    assert re.search(r'<td class="bad" title="[^"]*fifty[^"]*">fifty', page)
    assert "Row 3, column <strong>discount</strong>" in page
    fixed = BAD_SHEET.replace(",fifty,", ",50,")
    token = form_token(client, where)
    answer = client.post(
        f"{where}/rows", data={"csrf": token, "rows": fixed}, follow_redirects=False
    )
    assert answer.status_code == 303
    page = client.get(where).text
    assert "2 rows ready" in page and 'class="bad"' not in page


@pytest.mark.parametrize(
    ("image", "sheet_name", "expected"),
    [
        (
            b"<html>not an image</html>",
            "s.csv",
            "not a readable image (not PNG, JPEG or WebP data)",
        ),
        (png(), "s.exe", "the sheet 's.exe' is not a .csv or .xlsx file"),
        (None, "s.csv", "cannot be read"),
    ],
)
def test_a_bad_upload_is_one_sentence_and_keeps_nothing(
    client: httpx.Client, tmp_path: Path, image: bytes | None, sheet_name: str, expected: str
) -> None:
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")  # 144 megapixels in a few kilobytes
    files = {
        "image": ("p.png", image if image is not None else bomb.getvalue(), "image/png"),
        "campaign": (sheet_name, SHEET.encode(), "text/csv"),
    }
    answer = client.post("/_desk/campaigns", files=files, data={"csrf": form_token(client)})
    assert answer.status_code == 400
    [alert] = re.findall(r'role="alert">([^<]*)<', answer.text)
    alert = html.unescape(alert)
    if image is None:
        assert "pixels" in alert or "too large" in alert, alert
    else:
        assert expected in alert, alert
    assert not [p for p in (tmp_path / "out" / "_desk").iterdir() if p.is_dir()]


def test_a_post_without_the_pages_token_or_from_another_site_is_refused(
    client: httpx.Client,
) -> None:
    files = {"image": ("p.png", png(), "image/png"), "campaign": ("s.csv", SHEET.encode())}
    assert client.post("/_desk/campaigns", files=files, data={"csrf": "x"}).status_code == 403
    token = form_token(client)
    answer = client.post(
        "/_desk/campaigns",
        files=files,
        data={"csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert answer.status_code == 403 and "another site" in answer.text


def test_an_oversized_upload_is_refused_before_it_is_read(client: httpx.Client) -> None:
    too_large = b"x" * (MAX_UPLOAD + 1)
    answer = client.post(
        "/_desk/campaigns", content=too_large, headers={"content-type": "multipart/form-data"}
    )
    assert answer.status_code == 413
    # A body of unknown length is not read at all.
    chunks = iter([b"x" * 1024] * 4)
    answer = client.post(
        "/_desk/campaigns", content=chunks, headers={"content-type": "multipart/form-data"}
    )
    assert answer.status_code == 413


def test_a_run_from_the_desk_makes_its_creatives_shows_their_copy_and_zips_them(
    client: httpx.Client, tmp_path: Path
) -> None:
    where = upload(client).headers["location"]
    token = form_token(client, where)
    data = {"csrf": token, "locale": ["en", "th"], "size": ["base", "728x90"]}
    assert client.post(f"{where}/run", data=data, follow_redirects=False).status_code == 303
    deadline = time.monotonic() + 120
    state = client.get(f"{where}/progress.json").json()
    while state["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        state = client.get(f"{where}/progress.json").json()
    assert state["status"] == "done", state
    assert state["done"] == state["total"] == 4
    page = client.get(where).text
    assert "Original size" in page and "728x90" in page
    assert "Spring Sale" in page and "30% off" in page and "Thai" in page
    [image] = re.findall(r'<img src="(/spring-[^"]+/en/spring-[0-9a-f]+\.png)"', page)
    assert client.get(image).headers["content-type"] == "image/png"
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{where}/download.zip").content))
    names = sorted(archive.namelist())
    assert "manifest.json" in names and len([n for n in names if n.endswith(".png")]) == 4
    banner = zipfile.ZipFile(io.BytesIO(client.get(f"{where}/download.zip?size=728x90").content))
    assert all("728x90" in n for n in banner.namelist() if n.endswith(".png"))


def test_the_desks_own_folder_and_paths_out_of_the_root_are_not_served(
    client: httpx.Client,
) -> None:
    where = upload(client).headers["location"]
    ident = where.rsplit("/", 1)[1]
    assert client.get(f"/_desk/{ident}/state.json").status_code == 404
    assert client.get(f"/_desk/{ident}/inputs/base.png").status_code == 404
    assert client.get("/../../etc/passwd").status_code == 404
    assert client.get("/_desk/c/..%2f..%2fetc").status_code == 404


def test_with_a_token_the_desk_asks_for_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, token="t0ken", secret="s")
    with served(app) as url, httpx.Client(base_url=url) as client:
        answer = client.get("/")
        assert answer.status_code == 401 and 'name="token"' in answer.text
        assert client.get("/_desk/c/x-20261207-abcdef/progress.json").status_code == 401
        refused = client.post("/_desk/login", data={"token": "wrong"})
        assert refused.status_code == 401
        signed = client.post("/_desk/login", data={"token": "t0ken"}, follow_redirects=False)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/").status_code == 200  # the cookie is kept
        with httpx.Client(base_url=url) as script:
            bearer = script.get("/", headers={"authorization": "Bearer t0ken"})
            assert bearer.status_code == 200


def wait_done(client: httpx.Client, where: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    state: dict[str, Any] = client.get(f"{where}/progress.json").json()
    while state["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        state = client.get(f"{where}/progress.json").json()
    return state


def made_keys(client: httpx.Client, where: str) -> dict[str, str]:
    """The page's creatives: their job key by their image's path."""
    page = client.get(where).text
    return dict(
        re.findall(r'<img src="([^"]+)"[^>]*>.*?name="key" value="([0-9a-f]{64})"', page, re.S)
    )


def test_a_reviewer_approves_rejects_and_corrects_one_creative_at_a_time(
    client: httpx.Client, tmp_path: Path
) -> None:
    where = upload(client, BAD_SHEET.replace(",fifty,", ",50,")).headers["location"]
    token = form_token(client, where)
    data = {"csrf": token, "locale": ["en", "th"], "size": ["base"]}
    client.post(f"{where}/run", data=data)
    assert wait_done(client, where)["status"] == "done"
    keys = made_keys(client, where)
    [en] = [key for path, key in keys.items() if "/en/spring" in path]
    [th] = [key for path, key in keys.items() if "/th/spring" in path]
    judged = client.post(
        f"{where}/review",
        data={"csrf": token, "key": en, "decision": "approve", "by": "Ana", "note": ""},
        follow_redirects=False,
    )
    assert judged.status_code == 303 and "problem" not in judged.headers["location"]
    refused = client.post(
        f"{where}/review", data={"csrf": token, "key": th, "decision": "reject", "by": "Ana"}
    )
    assert "say why in the note" in unquote(refused.headers["location"])
    shown = client.get(refused.headers["location"]).text
    assert "say why in the note" in html.unescape(shown)
    client.post(
        f"{where}/review",
        data={"csrf": token, "key": th, "decision": "reject", "by": "Ana", "note": "too long"},
    )
    page = client.get(where).text
    assert "✓ Approved by Ana" in page and "✗ Rejected by Ana" in page and "too long" in page
    ident = where.rsplit("/", 1)[1]
    output = tmp_path / "out" / ident
    jobs = json.loads((output / "manifest.json").read_text(encoding="utf-8"))["jobs"]
    reviews = {job["locale"]: job.get("review") for job in jobs if job["variant"] == "spring"}
    assert reviews["en"]["decision"] == "approved" and reviews["en"]["by"] == "Ana"
    assert reviews["th"]["decision"] == "rejected" and reviews["th"]["note"] == "too long"
    assert "rejected,too long,Ana" in (output / "review.csv").read_text(encoding="utf-8-sig")
    # The Thai headline corrected: that creative is made again, with its variant's English (the
    # built-in editor agrees a variant's headline size across its locales); the other variant
    # is found stored, not made again.
    before = {p.name: p.stat().st_mtime_ns for p in output.rglob("autumn-*.png")}
    corrected = client.post(
        f"{where}/correct",
        data={"csrf": token, "key": th, "by": "Ana", "headline": "ลดหน้าร้อน", "cta": "ช้อปเลย"},
        follow_redirects=False,
    )
    assert corrected.status_code == 303
    state = wait_done(client, where)
    assert state["status"] == "done" and state["counts"].get("ok") == 2, state
    assert state["counts"].get("cached") == 2
    after = {p.name: p.stat().st_mtime_ns for p in output.rglob("autumn-*.png")}
    assert before == after and len(after) == 2
    page = client.get(where).text
    assert "ลดหน้าร้อน" in page  # the corrected copy, on the made-again creative
    assert "✎ Corrected by Ana" not in page  # made again: it waits for a new look
    state_file = tmp_path / "out" / "_desk" / ident / "state.json"
    history = json.loads(state_file.read_text(encoding="utf-8"))["history"]
    assert [d["decision"] for d in history] == ["approved", "rejected", "corrected"]
    assert "corrected,headline:th → ลดหน้าร้อน" in (output / "review.csv").read_text("utf-8-sig")


def test_a_share_link_opens_the_creatives_read_only_for_anyone_until_it_expires(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path / "out", token="t0ken", secret="s")
    with served(app) as url, httpx.Client(base_url=url) as client:
        client.post("/_desk/login", data={"token": "t0ken"})
        where = upload(client).headers["location"]
        token = form_token(client, where)
        client.post(f"{where}/run", data={"csrf": token, "locale": ["en"], "size": ["base"]})
        assert wait_done(client, where)["status"] == "done"
        made = client.post(f"{where}/share", data={"csrf": token, "days": "7"})
        assert made.status_code == 303
        page = client.get(made.headers["location"]).text
        [link] = re.findall(r'readonly value="([^"]+/_desk/s/[^"]+)"', page)
        with httpx.Client() as stranger:  # no cookie, no token
            shared = stranger.get(link)
            assert shared.status_code == 200 and "Spring Sale" in shared.text
            assert 'name="csrf"' not in shared.text and "Review" not in shared.text
            [image] = re.findall(r'<img src="([^"]+)"', shared.text)
            assert stranger.get(url + image).headers["content-type"] == "image/png"
            archive = zipfile.ZipFile(io.BytesIO(stranger.get(f"{link}/download.zip").content))
            assert any(name.endswith(".png") for name in archive.namelist())
            # Not the desk, not the campaign's other files, not another campaign, not forged.
            assert stranger.get(url + "/").status_code == 401
            assert stranger.get(f"{link}/f/manifest.json").status_code == 404
            assert stranger.get(f"{link}/f/../../_desk/secret").status_code == 404
            mac = link.rsplit(".", 1)[1]
            assert stranger.get(link.replace(mac, mac[::-1])).status_code == 404
    old = sign(b"s", "c-20261207-abcdef", 1, now=0)
    assert opened(b"s", old, now=86_401) is None and opened(b"s", old, now=10) is not None


def test_engineers_settings_reach_the_run_and_a_wrong_one_is_a_sentence(
    client: httpx.Client,
) -> None:
    where = upload(client).headers["location"]
    token = form_token(client, where)
    page = client.get(where).text
    assert "More settings (for engineers)" in page and '<option value="local" selected>' in page
    data = {
        "csrf": token, "locale": ["en"], "size": ["base"],
        "backend": "openai", "mode": "overlay", "layout": "sideways",
    }  # fmt: skip
    client.post(f"{where}/run", data=data)
    state = wait_done(client, where)
    assert state["status"] == "failed"
    assert "mode 'overlay' is the local editor's" in state["error"]
    ident = where.rsplit("/", 1)[1]
    kept = client.get(where).text
    assert '<option value="openai" selected>' in kept  # the choice is shown as made
    assert "sideways" not in kept and ident in kept  # an unknown value is not taken


def test_pasted_rows_make_a_campaign_and_an_oversized_sheet_is_a_sentence(
    client: httpx.Client,
) -> None:
    token = form_token(client)
    image = {"image": ("product.png", png(), "image/png")}
    pasted = client.post(
        "/_desk/campaigns", files=image, data={"csrf": token, "rows": SHEET}, follow_redirects=False
    )
    assert pasted.status_code == 303
    assert "1 row ready" in client.get(pasted.headers["location"]).text
    files = {**image, "campaign": ("big.csv", b"x" * (MAX_CAMPAIGN_BYTES + 1), "text/csv")}
    answer = client.post("/_desk/campaigns", files=files, data={"csrf": token})
    assert answer.status_code == 400
    [alert] = re.findall(r'role="alert">([^<]*)<', answer.text)
    assert "the sheet is over" in alert


def test_a_manager_asks_for_translation_and_sees_each_beside_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import use_fake_model
    from tests.servers.chat import FakeChat

    english = "variant,headline,cta,color,position\nbig,Big Sale,Shop now,yellow,top-left\n"
    with FakeChat() as fake:
        use_fake_model(monkeypatch, tmp_path, fake)
        with served(make_app(tmp_path / "out", secret="s")) as url, httpx.Client(base_url=url) as c:
            where = upload(c, sheet=english).headers["location"]
            assert 'name="translate"' in c.get(where).text  # offered beside the languages
            data = {"csrf": form_token(c, where), "locale": ["th"], "size": ["base"]}
            assert c.post(f"{where}/run", data={**data, "translate": "on"}).status_code == 303
            deadline = time.monotonic() + 60
            while c.get(f"{where}/progress.json").json()["status"] == "running":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            page = html.unescape(c.get(where).text)
        assert fake.paid == 2
    assert "ลดครั้งใหญ่" in page and "machine translation of “Big Sale”" in page
    assert "machine translation of “Shop now”" in page and "machine copy" in page


def test_the_desk_serves_its_script_fonts_so_copy_reads_in_any_browser(client) -> None:  # type: ignore[no-untyped-def]
    for script in ("thai", "chinese", "arabic", "devanagari", "khmer"):
        answer = client.get(f"/_desk/fonts/{script}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("font/")
    assert client.get("/_desk/fonts/japanese").status_code == 404  # the collection is 20 MB
    page = client.get("/").text
    assert 'url("/_desk/fonts/arabic")' in page


def test_the_languages_a_sheet_writes_are_the_ones_chosen_before_the_first_run(
    client: httpx.Client,
) -> None:
    def chosen(sheet: str) -> set[str]:
        page = client.get(upload(client, sheet).headers["location"]).text
        return set(re.findall(r'name="locale" value="([^"]+)" checked', page))

    written = "variant,headline,headline:ar,headline:ja\nwinter,Winter Sale,تخفيضات,冬のセール\n"
    assert chosen(written) == {"en", "ja", "ar"}
    assert chosen(SHEET) == {"en", "th"}
    assert chosen("variant,headline\nplain,Hello\n") == {"id", "th", "zh", "en"}


def test_a_feed_whose_rows_bring_their_images_needs_no_base_creative(client: httpx.Client) -> None:
    def post(sheet: str) -> httpx.Response:
        files = {"campaign": ("feed.csv", sheet.encode(), "text/csv")}
        data = {"csrf": form_token(client)}
        return client.post("/_desk/campaigns", files=files, data=data, follow_redirects=False)

    feed = "id,title,price,image_link\nSKU-1,Red kettle,30.00 USD,https://cdn.example/k.png\n"
    made = post(feed)
    assert made.status_code == 303
    assert "1 row ready" in client.get(made.headers["location"]).text
    refused = post(SHEET)  # no image anywhere
    assert refused.status_code == 400
    assert "or give every row of the sheet its own in an image column" in html.unescape(
        refused.text
    )


def test_what_a_run_did_not_make_is_listed_with_why(tmp_path: Path) -> None:
    from transcreate.desk.store import Desk
    from transcreate.desk.views import not_made

    desk = Desk(tmp_path / "out")
    campaign = desk.create("", ("p.png", png()), ("s.csv", SHEET.encode()))
    output = desk.output(campaign)
    output.mkdir(parents=True)
    why = "s.csv, row 3, column image: https://cdn.example/x.png: not found (HTTP 404)"
    jobs = [
        {"variant": "spring", "locale": "en", "status": "ok", "uri": "file:///x.png"},
        {"variant": "autumn", "locale": "en", "status": "skipped", "error": why},
        {"variant": "autumn", "locale": "th", "status": "skipped", "error": why},
        {"variant": "spring", "locale": "th", "status": "blocked", "error": "policy: face swap"},
    ]
    (output / "manifest.json").write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
    assert not_made(desk, campaign) == [
        {"variant": "autumn", "status": "skipped", "reason": why, "locales": "English, Thai"},
        {
            "variant": "spring",
            "status": "blocked",
            "reason": "policy: face swap",
            "locales": "Thai",
        },
    ]
