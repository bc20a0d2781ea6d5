"""bench/soak.py at a small size: random faults, a kill -9, two runs at once, one to the end."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_a_small_soak_loses_no_job_tears_no_manifest_and_pays_each_edit_about_once():
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    arguments = argparse.Namespace(
        variants=1, fault_rate=0.3, kills=1, kill_window=1.0, seed=3, timeout=1.0, reference=False
    )
    figures = soak.soak("dify", arguments)
    assert figures["jobs"] == 4
    assert (figures["lost"], figures["torn"]) == (0, 0)
    # id and th share one scene edit (model+overlay): 3 distinct edits, what a fault-free run
    # of the campaign pays (bench/soak.py measures it: a reference run). Dify's run id is
    # written down before any wait, so a lost answer is collected, not made again: at most an
    # edit in flight at the kill and one at the concurrent start are paid twice, never one per
    # fault.
    assert figures["paid"] <= 3 + 2
