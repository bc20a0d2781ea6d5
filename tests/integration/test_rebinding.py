"""DNS rebinding: a name that is public when a link is checked and 127.0.0.1 when the connection is
made. A listener on loopback stands for the worker's own network; it must receive nothing from a
model's result link or a completion callback. The resolver is the only thing faked: the name's
answers change as a rebinding DNS server's do."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.servers.base import FakeServer, Fault, Reply, Request
from tests.servers.dashscope import GENERATION, FakeDashScope
from transcreate.callbacks import send_completion
from transcreate.editors.dashscope import DashScopeAPI
from transcreate.editors.prepare import prepare_image
from transcreate.errors import EditError
from transcreate.settings import ModelSettings


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


NAME = "rebound.example"
PUBLIC = "93.184.216.34"  # what the name says when it is checked


class Inside(FakeServer):
    """A server of the worker's own network: it counts what reaches it."""

    def route(self, request: Request) -> Reply:
        return Reply(200, b"\x89PNG inside", {"Content-Type": "image/png"})


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``NAME`` resolves to a public address the first time it is asked for, then to 127.0.0.1."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield asked


def test_a_result_link_rebound_to_the_workers_network_is_never_fetched(rebinding, tmp_path):
    with Inside() as inside, FakeDashScope(api_key="sk-rebinding") as model:
        link = f"http://{NAME}:{inside.url.rsplit(':', 1)[1]}/secret.png"
        answer = {"output": {"choices": [{"message": {"content": [{"image": link}]}}]}}
        model.faults.append(Fault(Reply.json(answer), GENERATION, times=1))
        settings = ModelSettings(
            provider="dashscope",
            base_url=f"{model.url}/api/v1",
            model="qwen-image-edit-plus",
            api_key="sk-rebinding",
            timeout=5,
            cache_dir=tmp_path / "cache",
        )
        with pytest.raises(EditError, match="private address"):
            DashScopeAPI(settings).edit_image(prepare_image(png(64), 64, 1 << 20), "Add x")
        assert len(rebinding) >= 2  # checked public, then refused when connecting
        assert inside.requests == []


def test_a_callback_rebound_to_the_workers_network_is_never_delivered(rebinding):
    with Inside() as inside:
        url = f"http://{NAME}:{inside.url.rsplit(':', 1)[1]}/done?token=s3cret"
        assert not send_completion(url, {"event": "run.completed"}, secret="k", attempts=2, wait=0)
        assert len(rebinding) >= 2
        assert inside.requests == []
