"""Benchmark: the instruction policy, and planning hostile sheets of growing size.

.venv/bin/python bench/policy.py [--jobs 10000] [--sizes 1000,10000,100000]

Measures (1) checks per second over the sample's instructions, (2) the policy on one text of
16 KB … 10 MB (linear: the time per megabyte stays flat), and (3) planning a run (read, expand,
policy) for a sheet with one 10 MB headline cell and for sheets of N rows: the time per row stays
flat when planning is linear in the sheet's size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from transcreate.campaign import read_campaign
from transcreate.jobs import expand
from transcreate.policy import load_policy
from transcreate.request import RunRequest
from transcreate.resources import data_dir
from transcreate.run.plan import plan_run
from transcreate.wiring import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--sizes", default="1000,10000,100000", help="rows of the planned sheets")
    arguments = parser.parse_args()
    started = time.perf_counter()
    policy = load_policy()
    loaded = time.perf_counter() - started
    campaign = read_campaign(data_dir("examples") / "skincare-sale.csv")
    jobs = expand(campaign, ["id", "th", "zh", "en"], image_sha256="x", backend="b", mode="model")
    sample = list(jobs.jobs)
    started = time.perf_counter()
    for index in range(arguments.jobs):
        policy.check_job(sample[index % len(sample)])
    elapsed = time.perf_counter() - started
    print(
        f"policy loaded in {loaded:.2f} s; {arguments.jobs:,} jobs checked in {elapsed:.2f} s "
        f"({elapsed / arguments.jobs * 1e6:.0f} µs per job)"
    )

    for size in (16_000, 160_000, 1_600_000, 10_000_000):
        for label, text in (
            ("ordinary", ("Diskon besar hari ini " * (size // 22 + 1))[:size]),
            ("one long word", "a" * size),
            ("blocked at the end", "Diskon besar " * (size // 13) + " face swap"),
        ):
            started = time.perf_counter()
            policy.check(text)
            seconds = time.perf_counter() - started
            print(
                f"policy on {size:>10,} chars, {label:<18}: {seconds:7.3f} s "
                f"({seconds / size * 1e6:.2f} µs per char)"
            )

    image = str(data_dir("examples") / "creative.png")
    with tempfile.TemporaryDirectory() as folder:
        sheet = Path(folder) / "long-cell.csv"
        sheet.write_text(
            "variant,headline\ngood,Big Sale\nlong," + "Diskon besar " * 800_000 + "\n"
        )
        request = RunRequest(campaign=str(sheet), image=image, out=str(Path(folder) / "out"))
        adapters = build(request)  # the policy loads once per run: timed above
        started = time.perf_counter()
        plan = plan_run(request, adapters)
        print(
            f"plan of a sheet with a {sheet.stat().st_size / 1e6:.1f} MB headline cell: "
            f"{time.perf_counter() - started:.2f} s, {len(plan.jobs)} jobs, "
            f"{len(plan.campaign.problems)} problem(s)"
        )
        for rows in (int(size) for size in arguments.sizes.split(",")):
            sheet = Path(folder) / f"rows-{rows}.csv"
            lines = ["variant,headline,headline:th,price,currency"]
            lines += [f"v{n},Big Sale {n},ลดใหญ่ {n},{n % 900 + 1},USD" for n in range(rows)]
            sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
            request = RunRequest(campaign=str(sheet), image=image, out=str(Path(folder) / "out"))
            adapters = build(request)
            started = time.perf_counter()
            plan = plan_run(request, adapters)
            seconds = time.perf_counter() - started
            print(
                f"plan of {rows:>7,} rows ({len(plan.jobs):,} jobs): {seconds:7.2f} s "
                f"({seconds / rows * 1e6:.0f} µs per row)"
            )


if __name__ == "__main__":
    main()
