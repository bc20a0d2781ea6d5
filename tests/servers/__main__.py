"""Serve a fake model API on loopback, to try a backend without a model or a key.

    .venv/bin/python -m tests.servers dashscope|dify|openai [--latency 0.5]

It prints the variables to export in another shell; stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import threading

from tests.servers.dashscope import FakeDashScope
from tests.servers.dify import FakeDify
from tests.servers.openai import FakeOpenAIImages

FAKES = {"dashscope": FakeDashScope, "dify": FakeDify, "openai": FakeOpenAIImages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", choices=sorted(FAKES))
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per model call")
    arguments = parser.parse_args()
    with FAKES[arguments.backend]() as server:
        server.latency = arguments.latency
        print(f"fake {arguments.backend} API on {server.url}; in another shell:")
        exports = " ".join(f"{name}={value}" for name, value in server.environment().items())
        print(f"  export {exports}")
        print(
            "  .venv/bin/transcreate run examples/skincare-sale.csv --image examples/creative.png"
            f" --backend {arguments.backend} --out out/{arguments.backend}"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")


if __name__ == "__main__":
    main()
