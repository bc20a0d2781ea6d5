"""Benchmark: the instruction policy, checks per second over the sample's instructions.

.venv/bin/python bench/policy.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import time

from transcreate.campaign import read_campaign
from transcreate.jobs import expand
from transcreate.policy import load_policy
from transcreate.resources import data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
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


if __name__ == "__main__":
    main()
