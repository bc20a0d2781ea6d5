"""Benchmark: the built-in local editor alone, images per second per locale at 1024×1024, then
per ad size (all locales).

    .venv/bin/python bench/local_editor.py [--repeat 3] [--sizes base,square,story,728x90]

Renders every job of the sample campaign for each locale with the exact layout (the copy at its
position, no analysis) and with the auto layout (product found, zones searched, contrast
measured, headline sized across the variant's locales), single thread, then one thread per core,
and prints images per second. Each layout starts from a fresh editor and empty layout caches, so
the first pass pays for the product search and the sibling locales' sizes as a real run does.
Then it times the layout analysis alone: finding the product once per base image, and the search
for one job. Then it renders every job for each size (single thread, then one thread per core)
and prints images per second. A size's first image also reframes the base
(kept for its other jobs), so the "first" column is the cost of a new size. Numbers, not
assertions: report them, don't test them.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from transcreate.campaign import read_campaign
from transcreate.compose import blocks as typesetting
from transcreate.compose.look import best_fit
from transcreate.compose.saliency import product_mask
from transcreate.editors.local import LocalEditor, _blocks
from transcreate.images import decode, load_base_creative
from transcreate.jobs import expand
from transcreate.resources import data_dir
from transcreate.sizes import parse_sizes

LOCALES = ("id", "th", "zh", "en")


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
    threads = os.cpu_count() or 1
    print(f"{'layout':<8}{'locale':<8}{'jobs':>6}{'img/s 1 thread':>16}", end="")
    print(f"{f'img/s {threads} threads':>18}")
    for layout in ("exact", "auto"):
        typesetting._measure.cache_clear()  # each layout starts cold
        editor = LocalEditor(layout=layout)
        # Every locale in the run, so each job sizes its headline with its variant's siblings.
        jobs = expand(
            campaign, list(LOCALES), image_sha256=creative.sha256, backend=editor.identity
        ).jobs
        for locale in LOCALES:
            work = [job for job in jobs if job.locale == locale] * arguments.repeat
            started = time.perf_counter()
            for job in work:
                editor.edit(job, creative.data)
            serial = len(work) / (time.perf_counter() - started)
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(editor.edit, work, [creative.data] * len(work)))
            parallel = len(work) / (time.perf_counter() - started)
            count = len(work) // arguments.repeat
            print(f"{layout:<8}{locale:<8}{count:>6}{serial:>16.1f}{parallel:>18.1f}")

    image = decode(creative.data)
    started = time.perf_counter()
    product = product_mask(image)
    finding = time.perf_counter() - started
    typesetting._measure.cache_clear()
    started = time.perf_counter()
    for job in jobs:
        best_fit(_blocks(job.overlays), job.position, image.size, job.locale, product)
    search = (time.perf_counter() - started) / len(jobs)
    print(f"finding the product (once per base image and size): {finding * 1000:.0f} ms")
    print(f"searching the layout of one job, cold caches: {search * 1000:.0f} ms")

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
