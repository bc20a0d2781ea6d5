"""A scripted editor for tests: fails *these* jobs with *this* error, and counts its calls."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from transcreate.editors import Edited
from transcreate.errors import EditError
from transcreate.jobs import EditJob


class ScriptedEditor:
    """Returns the input image unchanged, or raises the scripted errors for a (variant, locale).

    ``script[("flash-deal", "th")] = [RetryableEditError("busy"), None]`` fails the first call with
    the error and succeeds on the second; a scripted error list repeats its last entry.
    """

    identity = "scripted/1"

    def __init__(
        self,
        script: Mapping[tuple[str, str], Sequence[EditError | None]] | None = None,
        layout: Mapping[str, Any] | None = None,
    ):
        self.script = dict(script or {})
        self.layout = dict(layout) if layout is not None else None  # the record every edit returns
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def edit(self, job: EditJob, image: bytes) -> Edited:
        cell = (job.variant, job.locale)
        with self._lock:
            self.calls[cell] += 1
            attempt = self.calls[cell]
        outcomes = self.script.get(cell, [None])
        outcome = outcomes[min(attempt, len(outcomes)) - 1]
        if outcome is not None:
            raise outcome
        return Edited(image, self.layout)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())
