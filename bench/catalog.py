"""Benchmark: a product feed, every row its own image link and edit, on the DashScope fake.

    .venv/bin/python bench/catalog.py [--rows 200] [--concurrency 32] [--latency 0.5] [--side 768]

Builds a Merchant Center feed of ``rows`` products (id, title, price, image_link, edit), each
image a distinct PNG served by a loopback image host that counts its GETs, and runs it in a fresh
child process against the DashScope fake (answering ``latency`` seconds after each request), in
English (the model draws the copy: one paid call per row). Prints the wall time against the
model-bound ideal ceil(rows / C) × latency, the paid calls, the image fetches, the drift
verdicts and peak RSS; then the re-run (nothing paid, every image fetched again to know its hash).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def product(index: int, side: int) -> bytes:
    """A distinct product shot: a light backdrop, a product of its own colour in the middle."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (side, side), (236, 232, 226))
    colour = ((index * 53) % 200 + 30, (index * 97) % 200 + 30, (index * 31) % 200 + 30)
    ImageDraw.Draw(image).ellipse((side // 4, side // 5, side * 3 // 4, side * 4 // 5), colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def child(arguments: argparse.Namespace) -> None:
    """One measured run in this process; prints a JSON line."""
    from transcreate.request import RunRequest
    from transcreate.wiring import localize

    request = RunRequest(
        campaign=arguments.campaign,
        out=arguments.out,
        locales="en",
        backend="dashscope",
        concurrency=arguments.concurrency,
        retry_wait=0.05,
    )
    started, began = time.perf_counter(), time.time()
    summary = localize(request)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    # When the first paid call went out and the last came back, from the audit log: the
    # run's time before and after its model-bound part
    calls = [
        json.loads(line)
        for log in Path(arguments.out).rglob("audit/*.jsonl")
        for line in log.read_text().splitlines()
    ]
    sent = [datetime.datetime.fromisoformat(c["time"]).timestamp() for c in calls]
    ended = [t + c.get("seconds", 0) for t, c in zip(sent, calls, strict=True)]
    first = min(sent) - began if sent else 0.0
    last = max(ended) - began if ended else 0.0
    print(
        json.dumps(
            {
                "wall": wall,
                "counts": summary.counts,
                "rss": peak,
                "first": first,
                "last": last,
                "cpu": cpu,
            }
        )
    )


def shop_and_model_cpu() -> float:
    """CPU seconds this process (the image host and the model's fake) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--side", type=int, default=768, help="each product image's side, px")
    parser.add_argument(
        "--spy",
        help="record the first run's child with py-spy (idle threads too: where the wall time "
        "goes), collapsed stacks to this file",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return

    from tests.servers.base import FakeServer, Reply, Request
    from tests.servers.dashscope import FakeDashScope

    images = {
        f"/img/{index}.png": product(index, arguments.side) for index in range(arguments.rows)
    }

    class Shop(FakeServer):
        def route(self, request: Request) -> Reply:
            data = images.get(request.path)
            return Reply(200, data, {"Content-Type": "image/png"}) if data else Reply(404)

    with (
        tempfile.TemporaryDirectory() as folder,
        Shop() as shop,
        FakeDashScope("sk-bench") as model,
    ):
        model.inference = arguments.latency  # the edit's; its result link answers at once
        model.echo = True  # the fake answers with the creative as sent: it costs next to nothing
        feed = Path(folder) / "feed.tsv"
        lines = ["id\ttitle\tprice\timage_link\tedit"] + [
            f"SKU-{index:04d}\tProduct {index}\t{10 + index}.00 USD\t{shop.url}/img/{index}.png\t"
            f"Change the background to a soft gradient, shade {index}"
            for index in range(arguments.rows)
        ]
        feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {
            **os.environ,
            **model.environment(),
            "TRANSCREATE_CACHE_DIR": str(Path(folder) / "cache"),
            "TRANSCREATE_ALLOW_PRIVATE_INPUTS": "127.0.0.1",
        }
        command = [
            sys.executable, __file__, "--child", "--campaign", str(feed),
            "--out", str(Path(folder) / "out"), "--concurrency", str(arguments.concurrency),
        ]  # fmt: skip
        ideal = math.ceil(arguments.rows / arguments.concurrency) * arguments.latency
        for label in ("first run", "re-run"):
            fetched, paid = len(shop.requests), model.paid
            spied = ["py-spy", "record", "--format", "raw", "-o", arguments.spy, "--"]
            run = [*spied, *command] if arguments.spy and label == "first run" else command
            done = subprocess.run(
                run, env=env, capture_output=True, text=True, check=True, cwd=folder
            )
            # the run's line (py-spy, when recording, writes its own lines after it)
            line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("{"))
            figures = json.loads(line)
            print(
                f"{label}: {arguments.rows} rows, C = {arguments.concurrency}, latency "
                f"{arguments.latency} s: wall {figures['wall']:.2f} s, ideal {ideal:.2f} s, "
                f"ratio {figures['wall'] / ideal:.2f}; paid calls {model.paid - paid}; image "
                f"GETs {len(shop.requests) - fetched} ({arguments.side}×{arguments.side} PNG); "
                f"counts {figures['counts']}; peak RSS {figures['rss']:.0f} MB; first call "
                f"at {figures['first']:.2f} s, last answer at {figures['last']:.2f} s; CPU "
                f"{figures['cpu']:.1f} s in the run's process, "
                f"{shop_and_model_cpu():.1f} s in the fakes' so far"
            )


if __name__ == "__main__":
    main()
