"""The hostile-input corpus (test_hostile_inputs.py) in a child process held to a 1.5 GB address
space (issue 32): every case ends in a clear error or a correct output within the cap, so a
regression that decodes a bomb or reads a huge part whole fails here instead of swapping."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).with_name("test_hostile_inputs.py")
ADDRESS_SPACE = 1536 * 1024 * 1024


def test_the_whole_hostile_corpus_runs_under_a_memory_cap() -> None:
    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    # one BLAS thread: each of OpenBLAS's reserves address space the cap would count
    env = {**os.environ, "TRANSCREATE_HOSTILE_CAPPED": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-p", "no:randomly", str(CORPUS)],
        env=env, capture_output=True, text=True, preexec_fn=capped, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]
