"""Benchmark: the built-in local editor alone, images per second per locale at 1024×1024, then
per ad size (all locales).

    .venv/bin/python bench/local_editor.py [--repeat 3] [--sizes base,square,story,728x90]

Renders every job of the sample campaign for each locale, then for each size (single thread, then
one thread per core) and prints images per second. A size's first image also reframes the base
(kept for its other jobs), so the "first" column is the cost of a new size. Numbers, not
assertions: report them, don't test them.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from transcreate.campaign import read_campaign
from transcreate.editors.local import LocalEditor
from transcreate.images import load_base_creative
from transcreate.jobs import expand
from transcreate.resources import data_dir
from transcreate.sizes import parse_sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the sample per locale")
    parser.add_argument(
        "--sizes",
        default="base,square,portrait,story,landscape,728x90,300x250",
        help="sizes to time, as the run's --sizes option takes them",
    )
    arguments = parser.parse_args()

    examples = data_dir("examples")
    campaign = read_campaign(examples / "skincare-sale.csv")
    creative = load_base_creative(examples / "creative.png")
    editor = LocalEditor()
    threads = os.cpu_count() or 1
    print(f"{'locale':<8}{'jobs':>6}{'img/s 1 thread':>16}{f'img/s {threads} threads':>18}")
    for locale in ("id", "th", "zh", "en"):
        jobs = expand(
            campaign, [locale], image_sha256=creative.sha256, backend=editor.identity
        ).jobs
        work = list(jobs) * arguments.repeat
        editor.edit(work[0], creative.data)  # warm fonts and the Thai dictionary
        started = time.perf_counter()
        for job in work:
            editor.edit(job, creative.data)
        serial = len(work) / (time.perf_counter() - started)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda job: editor.edit(job, creative.data), work))
        parallel = len(work) / (time.perf_counter() - started)
        print(f"{locale:<8}{len(jobs):>6}{serial:>16.1f}{parallel:>18.1f}")

    header = f"{'size':<20}{'jobs':>6}{'first s':>9}{'img/s 1 thread':>16}"
    print(f"\n{header}{f'img/s {threads} threads':>18}")
    for size in parse_sizes(arguments.sizes):
        name = size.name if size else None
        jobs = expand(
            campaign,
            ["id", "th", "zh", "en"],
            image_sha256=creative.sha256,
            backend=editor.identity,
            sizes=[name],
        ).jobs
        fresh = LocalEditor()  # a new size: the reframe is part of its first image
        started = time.perf_counter()
        fresh.edit(jobs[0], creative.data)
        first = time.perf_counter() - started
        work = list(jobs) * arguments.repeat
        started = time.perf_counter()
        for job in work:
            fresh.edit(job, creative.data)
        serial = len(work) / (time.perf_counter() - started)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fresh.edit, work, [creative.data] * len(work)))
        parallel = len(work) / (time.perf_counter() - started)
        label = size.label if size else "base 1024×1024"
        print(f"{label:<20}{len(jobs):>6}{first:>9.2f}{serial:>16.1f}{parallel:>18.1f}")


if __name__ == "__main__":
    main()
