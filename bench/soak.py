"""Soak: campaigns against a fake model API with random faults, kill -9 and two concurrent runs.

    .venv/bin/python bench/soak.py [--backend dashscope|dify|openai|all] [--variants 30]
                                   [--fault-rate 0.3] [--kills 5] [--seed 1] [--json]

Per backend, against its fake (tests/servers/*.py) in this process: every edit call meets a fault
with probability ``fault-rate`` (429 with Retry-After, 500 before any work, or an answer that
comes after the client's timeout although the edit was made and paid for), and every result
download answers 503 with the same probability. Runs of the same campaign (``variants`` × id, th,
zh, en jobs, one shared result cache and destination) are killed with SIGKILL at random points
``kills`` times, then two runs start at once, then one runs to the end. Reported: jobs lost (not
made by the end), torn manifests (a manifest.json or manifest.csv that does not parse after a
kill), and paid edits per job made and per distinct edit (a fault-free run of the same campaign
on a fresh fake says how many edits it needs: jobs may share one; the target is 1.00).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOCALES = ("id", "th", "zh", "en")
EDIT_FAULTS = ("throttled", "server_error", "timeout_after_edit")
DOWNLOAD_FAULTS = ("download_error",)


def chaotic(fake_class: type, rate: float, seed: int, late: float) -> Any:
    """The fake, failing each call at random with the shared fault kinds (seeded)."""

    class Chaotic(fake_class):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.random = random.Random(seed)
            self.injected: Counter[str] = Counter()
            self.paths = {kind: self._path_of(kind) for kind in EDIT_FAULTS + DOWNLOAD_FAULTS}

        def _path_of(self, kind: str) -> str:
            try:
                return str(self.fault_for(kind).path)
            except KeyError:  # Dify's late answer is a slow run, not an HTTP fault
                return str(self.fault_for("server_error").path)

        def _next_fault(self, request: Any) -> Any:
            scripted = super()._next_fault(request)
            if scripted is not None or (
                request.method == "GET" and "/workflows/run/" in request.path
            ):
                return scripted
            kinds = [kind for kind, path in self.paths.items() if path and path in request.path]
            if request.method == "GET":
                kinds = [kind for kind in kinds if kind in DOWNLOAD_FAULTS]
            else:
                kinds = [kind for kind in kinds if kind in EDIT_FAULTS]
            with self._lock:
                if not kinds or self.random.random() >= rate:
                    return None
                kind = self.random.choice(kinds)
                self.injected[kind] += 1
            if kind != "timeout_after_edit":
                return self.fault_for(kind)
            if hasattr(self, "outcomes"):  # Dify: the run this request starts goes silent
                from tests.servers.dify import Outcome

                with self._count:
                    self.outcomes.append(Outcome(stall=late))
                return None
            return dataclasses.replace(self.fault_for(kind), late=late)

    return Chaotic()


def write_campaign(path: Path, variants: int) -> None:
    """Every locale with its own copy: a creative in another language's words would be sent
    to review, and a soak counts only what is made."""
    columns = ["variant", "headline", "cta"]
    columns += [
        f"{field}:{locale}" for locale in ("id", "th", "zh") for field in ("headline", "cta")
    ]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for index in range(variants):
            copy = [f"Sale {index}", "Buy", f"Diskon {index}", "Beli", f"ลดราคา {index}", "ซื้อ"]
            writer.writerow([f"v{index:03d}", *copy, f"促销 {index}", "购买"])


def write_creative(path: Path) -> None:
    """A small base image: the fakes' edit of it costs little, so a loaded machine's slowness
    does not pass for the provider's."""
    from PIL import Image

    Image.new("RGB", (480, 600), (200, 120, 40)).save(path, format="PNG")


def child(arguments: argparse.Namespace) -> None:
    """One run in this process (the parent may kill it at any point)."""
    from transcreate.request import RunRequest
    from transcreate.wiring import localize

    summary = localize(
        RunRequest(
            campaign=arguments.campaign,
            image=str(Path(arguments.campaign).with_name("creative.png")),
            out=arguments.out,
            locales=",".join(LOCALES),
            backend=arguments.backend,
            concurrency=8,
            retries=6,
            retry_wait=0.05,
        )
    )
    print(json.dumps(summary.counts))


def manifest_intact(out: Path) -> bool:
    """Whether the manifests that exist parse completely."""
    for path in out.rglob("manifest.json"):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return False
    for path in out.rglob("manifest.csv"):
        try:
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        except (ValueError, csv.Error):
            return False
        if not rows or len({len(row) for row in rows}) != 1:
            return False
    return True


def reference_edits(fake_class: type, backend: str, campaign: Path, work: Path) -> int:
    """The paid calls of one run of the campaign on a fake with no faults, into a fresh folder
    and cache: the number of distinct edits the soak's runs had to pay for at least."""
    with fake_class() as server:
        env = {
            **os.environ,
            **server.environment(),
            "TRANSCREATE_CACHE_DIR": str(work / "reference-cache"),
            "PREFECT_LOGGING_LEVEL": "ERROR",
        }
        env.pop("PREFECT_API_URL", None)
        command = [
            sys.executable, __file__, "--child", "--backend", backend,
            "--campaign", str(campaign), "--out", str(work / "reference"),
        ]  # fmt: skip
        subprocess.run(command, env=env, cwd=work, capture_output=True, check=True)
        return int(server.paid)


def soak(backend: str, arguments: argparse.Namespace) -> dict[str, Any]:
    from tests.servers.__main__ import FAKES

    rng = random.Random(arguments.seed)
    late = arguments.timeout * 1.5  # late answers come well after the client gave up
    server = chaotic(FAKES[backend], arguments.fault_rate, arguments.seed, late)
    with server, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        campaign, out = work / "soak.csv", work / "out"
        write_campaign(campaign, arguments.variants)
        write_creative(work / "creative.png")
        config = work / "transcreate.toml"
        config.write_text(
            f"[backends.{backend}]\ntimeout = {arguments.timeout}\nconnect_timeout = 2\n"
        )
        env = {
            **os.environ,
            **server.environment(),
            "TRANSCREATE_CONFIG": str(config),
            "TRANSCREATE_CACHE_DIR": str(work / "cache"),
            "PREFECT_LOGGING_LEVEL": "ERROR",
        }
        env.pop("PREFECT_API_URL", None)
        command = [
            sys.executable, __file__, "--child", "--backend", backend,
            "--campaign", str(campaign), "--out", str(out),
        ]  # fmt: skip

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(
                command, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip

        torn = 0
        started = time.monotonic()
        for _ in range(arguments.kills):
            run = start()
            time.sleep(rng.uniform(0.3, arguments.kill_window))
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
            torn += not manifest_intact(out)
        pair = [start(), start()]  # two runs of the same campaign at once
        for run in pair:
            run.communicate()
        torn += not manifest_intact(out)
        final = start()
        final.communicate()
        seconds = time.monotonic() - started
        manifest = json.loads(next(out.rglob("manifest.json")).read_text(encoding="utf-8"))
        made = [job for job in manifest["jobs"] if job["status"] in ("ok", "cached")]
        expected = arguments.variants * len(LOCALES)
        edits = (
            reference_edits(FAKES[backend], backend, campaign, work) if arguments.reference else 0
        )
        return {
            "backend": backend,
            "jobs": expected,
            "lost": expected - len(made),
            "torn": torn,
            "kills": arguments.kills,
            "paid": server.paid,
            "paid_per_job": server.paid / max(1, len(made)),
            # what the campaign costs with no fault, no kill: jobs that share an edit (model+
            # overlay's scene, made once for id and th) share its call
            "edits": edits,
            "paid_per_edit": server.paid / max(1, edits),
            "faults": dict(server.injected),
            "seconds": round(seconds, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("dashscope", "dify", "openai", "all"), default="all")
    parser.add_argument("--variants", type=int, default=30)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--kill-window", type=float, default=3.0, help="latest kill, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="the client's, seconds")
    parser.add_argument("--json", action="store_true", help="one JSON line per backend")
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the fault-free run that counts the campaign's distinct edits",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return
    backends = (
        ("dashscope", "dify", "openai") if arguments.backend == "all" else (arguments.backend,)
    )
    for backend in backends:
        figures = soak(backend, arguments)
        if arguments.json:
            print(json.dumps(figures), flush=True)
            continue
        print(
            f"{backend:9} jobs {figures['jobs']:4}  lost {figures['lost']}  torn manifests "
            f"{figures['torn']}/{figures['kills'] + 1}  paid edits {figures['paid']:4} "
            f"({figures['paid_per_job']:.2f} per job, {figures['paid_per_edit']:.2f} per "
            f"distinct edit of {figures['edits']})  faults {figures['faults']}  "
            f"{figures['seconds']} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
