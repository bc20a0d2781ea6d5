"""Schedule a run's jobs: plan ahead of the edits, and hand jobs to threads a few at a time with at
most the run's concurrency of edits in flight. (Across machines, Prefect task runs and Dask take
batches of these jobs: see `transcreate.flows`.)"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import nullcontext

from transcreate.campaign import Variant
from transcreate.jobs import EditJob
from transcreate.manifest import JobResult
from transcreate.run.execute import JobContext, process_job, split_stored
from transcreate.run.plan import Planner, RunPlan

OnResult = Callable[[JobResult], None]


class PlanAhead:
    """Plans a run beside it, a chunk of variants at a time on a thread of its own: the run edits
    the first jobs while the rest is planned. (Rendering and checking 1,000 instructions takes
    about half a second, and the first edits' wait on the model leaves the process idle; at
    10,000 jobs the run would otherwise wait five seconds before its first call.)

    `chunks` yields each chunk's outputs found stored already (as results) and its jobs left to
    make, in the campaign's order; `plan` waits for the whole plan, which ``on_plan`` callbacks
    also receive (on the planning thread) as soon as it is made."""

    CHUNK = 128  # jobs a chunk after the first ``first`` holds, about

    def __init__(
        self,
        planner: Planner,
        context: JobContext,
        first: int,
        on_plan: Sequence[Callable[[RunPlan], None]] = (),
    ):
        self._planner = planner
        self._context = context  # where to look for outputs stored already
        self._lookups = planner.adapters.storage.lookups
        self._first = max(1, first)
        self._chunks: queue.SimpleQueue[tuple[list[JobResult], list[EditJob]] | None] = (
            queue.SimpleQueue()
        )
        self._plan: Future[RunPlan] = Future()
        self._on_plan = tuple(on_plan)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._work, name="plan", daemon=True)
        self._thread.start()

    def chunks(self) -> Iterator[tuple[list[JobResult], list[EditJob]]]:
        try:
            while (chunk := self._chunks.get()) is not None:
                yield chunk
            self._plan.result()  # raises what stopped the planning, if anything did
        finally:
            self._stopped.set()  # the run stopped taking jobs: plan no further

    def plan(self) -> RunPlan:
        return self._plan.result()

    def _work(self) -> None:
        planner = self._planner
        jobs: list[EditJob] = []
        settled: list[JobResult] = []
        try:
            for variants in self._slices():
                if self._stopped.is_set():
                    raise RuntimeError("the run stopped before it was planned")
                made, cells = planner.expand(variants)
                jobs += made
                settled += cells
                self._chunks.put(split_stored(made, self._context, self._lookups))
            plan = planner.plan(jobs, settled)
            for callback in self._on_plan:
                callback(plan)
            self._plan.set_result(plan)
        except BaseException as error:  # the run's thread raises it (`chunks`, `plan`)
            if not self._plan.done():
                self._plan.set_exception(error)
        finally:
            self._chunks.put(None)

    def _slices(self) -> Iterator[Sequence[Variant]]:
        variants = self._planner.campaign.variants
        request = self._planner.request
        per_variant = max(1, len(request.locales) * len(request.size_names))
        # The first variant alone: its first job goes to the model while the rest of the first
        # ``first`` jobs are planned; then chunks of CHUNK.
        wanted = iter([per_variant, self._first - per_variant])
        start = 0
        while start < len(variants):
            end = start + max(1, -(-next(wanted, self.CHUNK) // per_variant))
            yield variants[start:end]
            start = end


def run_jobs(
    jobs: Iterable[EditJob],
    context: JobContext,
    *,
    threads: int,
    on_result: OnResult | None = None,
    pool: Executor | None = None,
) -> list[JobResult]:
    """Run jobs on ``threads`` threads; results in the order of ``jobs`` (which may still be being
    planned: it is read as threads free up). The context's ``slots``, when given, bound the edits
    in flight across every batch that shares them (with more threads than slots, while some
    store a result or look for a stored one, the others keep every slot calling the model).
    Threads come from ``pool`` when given (the threads every batch of a run shares), else are
    the call's own."""
    results: dict[int, JobResult] = {}
    if isinstance(jobs, Sequence):
        threads = min(threads, len(jobs))
    workers = max(1, threads)
    # Jobs are handed to the pool a few at a time, not all at once: a future and its arguments
    # for each of 10,000 jobs held memory for the whole run.
    waiting = iter(enumerate(jobs))
    finished: queue.SimpleQueue[Future[JobResult]] = queue.SimpleQueue()
    own = None if pool else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edit")
    runner = pool or own
    assert runner is not None
    with own or nullcontext():
        running: dict[Future[JobResult], int] = {}

        def hand_out(count: int) -> None:
            for index, job in itertools.islice(waiting, count):
                future = runner.submit(process_job, job, context)
                running[future] = index
                future.add_done_callback(finished.put)

        hand_out(2 * workers)
        while running:
            future = finished.get()  # the next to finish, whichever it is
            hand_out(1)
            result = future.result()
            results[running.pop(future)] = result
            if on_result is not None:
                on_result(result)
    return [results[index] for index in sorted(results)]
