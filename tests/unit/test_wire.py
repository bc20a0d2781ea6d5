"""Result downloads: the address rule holds on every hop of a redirecting result link."""

from __future__ import annotations

import httpx
import pytest

from transcreate.editors.wire import check_response, download_image
from transcreate.errors import PermanentEditError, RetryableEditError

PNG = b"\x89PNG\r\n\x1a\n not decoded here"


def client(routes: dict[str, httpx.Response], seen: list[str]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return routes.get(str(request.url)) or httpx.Response(404)

    # The endpoint is on loopback, as a self-hosted server is: its own links are allowed.
    return httpx.Client(base_url="http://127.0.0.1:8000", transport=httpx.MockTransport(handle))


def test_a_result_link_that_redirects_to_the_endpoint_itself_is_followed() -> None:
    seen: list[str] = []
    routes = {
        "http://127.0.0.1:8000/r/1": httpx.Response(302, headers={"Location": "/files/1.png"}),
        "http://127.0.0.1:8000/files/1.png": httpx.Response(
            200, content=PNG, headers={"Content-Type": "image/png"}
        ),
    }
    with client(routes, seen) as http:
        data = download_image(http, "http://127.0.0.1:8000/r/1", provider="p", max_bytes=10**6)
    assert data == PNG and len(seen) == 2


def test_a_result_link_that_redirects_into_the_network_is_refused_before_it_is_fetched() -> None:
    seen: list[str] = []
    routes = {
        "http://127.0.0.1:8000/r/1": httpx.Response(
            302, headers={"Location": "http://127.0.0.2:9000/admin"}
        )
    }
    http = client(routes, seen)
    with http, pytest.raises(PermanentEditError, match=r"private address"):
        download_image(http, "http://127.0.0.1:8000/r/1", provider="p", max_bytes=10**6)
    assert seen == ["http://127.0.0.1:8000/r/1"]  # the private hop was never requested


def test_a_result_link_that_redirects_forever_is_refused() -> None:
    seen: list[str] = []
    loop = httpx.Response(302, headers={"Location": "/r/1"})
    http = client({"http://127.0.0.1:8000/r/1": loop}, seen)
    with http, pytest.raises(PermanentEditError, match="redirects more than 5 times"):
        download_image(http, "http://127.0.0.1:8000/r/1", provider="p", max_bytes=10**6)
    assert len(seen) == 6


@pytest.mark.parametrize(
    ("asked", "kind"), [("2", RetryableEditError), ("86400", PermanentEditError)]
)
def test_a_server_asking_to_wait_longer_than_five_minutes_is_down_not_waited_on(asked, kind):
    response = httpx.Response(429, headers={"Retry-After": asked}, json={"error": "busy"})
    with pytest.raises(kind) as raised:
        check_response(response, "p", lambda r: "busy")
    if kind is RetryableEditError:
        assert raised.value.retry_after == 2.0
    else:
        assert "86,400 s" in str(raised.value) and "run the campaign again later" in str(
            raised.value
        )
