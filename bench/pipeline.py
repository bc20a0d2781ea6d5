"""Benchmark: the whole pipeline against a fake model server with a set latency.

    .venv/bin/python bench/pipeline.py [--sizes 100,1000,10000] [--concurrency 32] [--latency 0.5]
                                       [--fail-every 0] [--runner local|prefect] [--floor]

For each N it builds a campaign of N jobs (N/4 variants × id, th, zh, en), runs it in a fresh
child process against the OpenAI-compatible fake (tests/servers/openai.py, answering after
`latency` seconds), then runs it again fully cached, and prints wall time against the model-bound
ideal ceil(N/C) × latency, model calls, Prefect task runs, peak RSS and jobs per second, and for
the cached re-run both its wall time (a fresh process: imports included) and its time inside the
run. The prefect runner talks to one Prefect server started before the runs, as a deployment does.

The floors under those figures: `--floor` also times, for each N, C threads doing nothing but the
bare HTTP request against the same fake (what the HTTP client and the fake cost on this machine,
before any of the pipeline's work); the prefect runner also times an empty flow given the run's
parameters (what Prefect costs a call to a flow, before any of the flow's work).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transcreate.request import RunRequest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOCALES = ("id", "th", "zh", "en")


def write_campaign(path: Path, jobs: int) -> None:
    variants = math.ceil(jobs / len(LOCALES))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        # A headline of its own in every locale: two locales sharing one instruction would share
        # one model call (the result cache), and the run would beat the ideal it is measured by.
        header = ["variant", "headline", "headline:id", "headline:th", "headline:zh", "cta"]
        writer.writerow([*header, "locales"])
        for index in range(variants):
            remaining = jobs - index * len(LOCALES)
            locales = ",".join(LOCALES[: min(len(LOCALES), remaining)])
            writer.writerow(
                [
                    f"v{index:05d}",
                    f"Sale {index}",
                    f"Diskon {index}",
                    f"ลดราคา {index}",
                    f"促销 {index}",
                    "Buy",
                    locales,
                ]
            )


def run_request(arguments: argparse.Namespace) -> RunRequest:
    from transcreate.request import RunRequest

    return RunRequest(
        campaign=arguments.campaign,
        image=str(ROOT / "examples" / "creative.png"),
        out=arguments.out,
        locales=LOCALES,
        backend="openai",
        concurrency=arguments.concurrency,
        retries=3,
        retry_wait=0.05,
    )


def child(arguments: argparse.Namespace) -> None:
    """One measured run in this process; prints a JSON line."""
    from transcreate.wiring import localize

    request = run_request(arguments)
    if arguments.runner == "prefect":  # imported before the clock starts, as for the CLI
        from transcreate.campaign import read_campaign
        from transcreate.flows.localize import batch_size, localize_request
    started = time.perf_counter()
    task_runs = 0
    if arguments.runner == "prefect":
        summary = localize_request(request)
        count = len(read_campaign(arguments.campaign).variants) * len(LOCALES)
        task_runs = -(-count // batch_size(count, arguments.concurrency))
    else:
        summary = localize(request)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "inside": summary.seconds,  # the run's own time: planning to manifest
                "counts": summary.counts,
                "rss": peak,
                "task_runs": task_runs,
            }
        )
    )


def empty_flow_child(arguments: argparse.Namespace) -> None:
    """Prefect's own floor: an empty flow given the parameters the measured flow is given, called
    the same way (a fresh process, the same server); prints a JSON line with its wall time,
    before and after its body. (Prefect serializes a flow's parameters with FastAPI's encoder,
    and imports FastAPI to do so at the first call in a process: part of every call's cost.)"""
    from typing import Any

    from prefect import flow

    from transcreate.flows.localize import flow_parameters

    parameters = flow_parameters(run_request(arguments))
    marks: dict[str, float] = {}

    @flow(name="bench-empty-flow")
    def empty(parameters: dict[str, Any]) -> None:
        marks["body"] = time.perf_counter()

    started = time.perf_counter()
    empty(parameters)
    ended = time.perf_counter()
    print(json.dumps({"wall": ended - started, "to_body": marks["body"] - started,
                      "after_body": ended - marks["body"]}))  # fmt: skip


def http_floor_child(arguments: argparse.Namespace, jobs: int) -> None:
    """The HTTP client's floor: ``jobs`` bare requests, ``concurrency`` in flight from twice as
    many threads (as the pipeline has), each the form an edit sends and its answer decoded;
    prints a JSON line with the wall time."""
    import base64
    import threading

    import httpx

    image = (ROOT / "examples" / "creative.png").read_bytes()
    numbers = iter(range(jobs))
    taking, slots = threading.Lock(), threading.BoundedSemaphore(arguments.concurrency)
    url = os.environ["OPENAI_BASE_URL"] + "/images/edits"
    headers = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
    clients = [httpx.Client() for _ in range(2 * arguments.concurrency)]

    def work(client: httpx.Client) -> None:
        while True:
            with taking:
                number = next(numbers, None)
            if number is None:
                return
            with slots:
                answer = client.post(
                    url,
                    headers=headers,
                    files={"image": ("creative.png", image, "image/png")},
                    data={"prompt": f"edit {number}", "model": "qwen-image-edit"},
                )
            base64.b64decode(answer.json()["data"][0]["b64_json"])

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"wall": time.perf_counter() - started}))


def measure(arguments: argparse.Namespace, campaign: Path, out: Path, env: dict[str, str]) -> dict:
    command = [
        sys.executable, __file__, "--child", "--campaign", str(campaign), "--out", str(out),
        "--concurrency", str(arguments.concurrency), "--runner", arguments.runner,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def prefect_server(wanted: bool) -> Iterator[str | None]:
    """A Prefect API that outlives the measured runs, as a deployment has: without one, every
    child would start a temporary server and the benchmark would time that start-up."""
    if not wanted:
        yield None
        return
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        # A deployment's server has answered before: its first answer (a second or more while
        # it sets itself up) is not the run's time.
        import httpx

        httpx.get(f"{url}/admin/version", timeout=60).raise_for_status()
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--fail-every", type=int, default=0, help="every Nth call answers 500")
    parser.add_argument("--runner", choices=("local", "prefect"), default="local")
    parser.add_argument(
        "--folder",
        default=None,
        help="where the outputs, caches and campaigns go (default: the system's temporary "
        "folder); the disk under it is part of what is measured",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time each N as bare HTTP requests alone (the HTTP client's and the fake's "
        "own cost: the floor under the pipeline's figure)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--empty-flow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--http-floor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--campaign", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.empty_flow:
        empty_flow_child(arguments)
        return
    if arguments.http_floor:
        http_floor_child(arguments, arguments.http_floor)
        return
    if arguments.child:
        child(arguments)
        return

    from tests.servers.openai import FakeOpenAIImages

    rows = []
    with (
        prefect_server(arguments.runner == "prefect") as api_url,
        tempfile.TemporaryDirectory(dir=arguments.folder) as folder,
        FakeOpenAIImages(
            api_key="sk-bench",
            latency=arguments.latency,
            echo=True,
            fail_every=arguments.fail_every,
        ) as server,
    ):
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": f"{server.url}/v1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            **({"PREFECT_API_URL": api_url} if api_url else {}),
        }
        floor = None
        if api_url:
            command = [sys.executable, __file__, "--empty-flow", "--campaign", "-", "--out", "-"]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            floor = json.loads(done.stdout.strip().splitlines()[-1])
        http_floors = {}
        for size in (int(text) for text in arguments.sizes.split(",")):
            campaign = Path(folder) / f"bench-{size}.csv"
            write_campaign(campaign, size)
            out = Path(folder) / f"out-{size}"
            if arguments.floor:
                command = [sys.executable, __file__, "--http-floor", str(size),
                           "--concurrency", str(arguments.concurrency)]  # fmt: skip
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                http_floors[size] = json.loads(done.stdout.strip().splitlines()[-1])["wall"]
            env["TRANSCREATE_CACHE_DIR"] = str(Path(folder) / f"cache-{size}")
            calls_before = server.edits
            first = measure(arguments, campaign, out, env)
            calls = server.edits - calls_before
            cached = measure(arguments, campaign, out, env)
            ideal = math.ceil(size / arguments.concurrency) * arguments.latency
            rows.append((size, first, cached, calls, ideal))

    print(
        f"\nC = {arguments.concurrency}, latency = {arguments.latency} s, runner = "
        f"{arguments.runner}, fail every {arguments.fail_every or '-'}; {os.cpu_count()} cores; "
        f"folder {arguments.folder or tempfile.gettempdir()}\n"
    )
    if floor is not None:
        print(
            f"Prefect's floor: an empty flow given the run's parameters takes {floor['wall']:.2f} s"
            f" here ({floor['to_body']:.2f} s to its body, {floor['after_body']:.2f} s after it)\n"
        )
    header = f"{'N':>6} {'wall s':>8} {'ideal s':>8} {'ratio':>6} {'calls':>6} {'tasks':>6}"
    header += f" {'RSS MB':>7} {'jobs/s':>7} {'ok':>6} {'cached re-run s':>16} {'inside':>7}"
    print(header)
    for size, first, cached, calls, ideal in rows:
        print(
            f"{size:>6} {first['wall']:>8.2f} {ideal:>8.2f} {first['wall'] / ideal:>6.3f} "
            f"{calls:>6} {first['task_runs']:>6} {first['rss']:>7.0f} "
            f"{size / first['wall']:>7.1f} {first['counts']['ok']:>6} {cached['wall']:>16.2f}"
            f" {cached['inside']:>7.2f}"
        )
    for size, wall in http_floors.items():
        ideal = math.ceil(size / arguments.concurrency) * arguments.latency
        print(f"HTTP floor, N = {size}: bare requests alone take {wall:.2f} s ({wall / ideal:.3f})")


if __name__ == "__main__":
    main()
