"""The built-in editor's layout caches under threads: a key is made once, however many jobs ask
for it at the same time (a variant's locales start together and share their layouts)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from transcreate.editors.local import LocalEditor


def test_a_key_asked_for_by_many_jobs_at_once_is_made_once() -> None:
    editor, cache, made = LocalEditor(), {}, []
    gate = threading.Barrier(4)

    def make() -> str:
        made.append(1)
        time.sleep(0.05)  # long enough for the others to ask meanwhile
        return "layout"

    def job(_: int) -> str:
        gate.wait()
        return editor._kept(cache, "key", 10, make)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(job, range(4))) == ["layout"] * 4
    assert len(made) == 1


def test_a_failed_make_is_tried_again_by_the_next_job_not_waited_on_forever() -> None:
    editor, cache, calls = LocalEditor(), {}, []

    def make() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return "layout"

    with pytest.raises(RuntimeError):
        editor._kept(cache, "key", 10, make)
    assert editor._kept(cache, "key", 10, make) == "layout" and len(calls) == 2
