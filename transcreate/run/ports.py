"""What a run talks to, built for one request by the root (`transcreate.wiring`) and handed in:
the engine constructs none of it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from transcreate.editors import Editor
from transcreate.errors import SetupError
from transcreate.glossary import Glossary
from transcreate.images import BaseCreative
from transcreate.inputs import Input
from transcreate.looks import Looks
from transcreate.policy import Policy
from transcreate.quality import OutputChecks
from transcreate.row_images import RowImages
from transcreate.storage import Storage
from transcreate.translation.fill import Approved, Memory, Translator


def _no_campaign() -> Input:
    raise SetupError("these adapters were built without a campaign to read")


@dataclass(frozen=True)
class Adapters:
    """Everything a run talks to, built for one request."""

    editor: Editor
    storage: Storage
    images: RowImages  # the run's image (if it has one) and, once planned, each row's own
    policy: Policy
    checks: OutputChecks | None
    concurrency: int  # edits in flight at once, after every bound
    bound: str  # which setting decided `concurrency`, in words
    callback_secret: str | None = field(default=None, repr=False)
    #: hosts of the user's network a completion callback may be sent to ("*": any)
    callback_hosts: frozenset[str] = frozenset()
    #: what instructions are written in: "locale", "en" or "zh" (`request.instruction_language`
    #: with "auto" decided for the backend and its model)
    instruction_language: str = "locale"
    #: the campaign's glossary (``request.glossary``, read and checked when the run is built)
    glossary: Glossary | None = None
    #: the translation backend (``request.translate``) and the memory of its answers, kept in
    #: the output root; None: copy a locale lacks is not translated
    translator: Translator | None = None
    translation_memory: Memory | None = None
    #: the user's own named looks (``request.looks``); None: the shipped ones
    looks: Looks | None = None
    #: a reviewer's translations (``request.translations``): approved copy
    approved: Approved = field(default_factory=dict)
    #: a model editor bounds its own calls (built with ``concurrency``): around the call only,
    #: so a job waiting for the same edit another job is making (the result cache) holds no slot
    editor_bounds_calls: bool = False
    #: the campaign the request names (its file or link, else its pasted rows), read when the
    #: run plans: a process that only makes jobs (a Dask worker) never downloads it
    campaign: Callable[[], Input] = field(default=_no_campaign, repr=False, compare=False)
    #: otherwise one slot per edit in flight, shared by every batch of the run in this process
    slots: threading.BoundedSemaphore | None = field(init=False, repr=False, compare=False)
    #: the threads every batch of the run in this process hands its jobs to (twice the edits in
    #: flight): while one batch's task run starts or ends, the others' jobs keep the slots busy
    pool: ThreadPoolExecutor = field(init=False, repr=False, compare=False)

    @property
    def creative(self) -> BaseCreative | None:
        """The run's own image; None when every row brings its own."""
        return self.images.base

    def __post_init__(self) -> None:
        slots = None if self.editor_bounds_calls else threading.BoundedSemaphore(self.concurrency)
        object.__setattr__(self, "slots", slots)
        # Threads start as jobs come, not here: a run that never uses the pool costs nothing.
        pool = ThreadPoolExecutor(max_workers=2 * self.concurrency, thread_name_prefix="edit")
        object.__setattr__(self, "pool", pool)
