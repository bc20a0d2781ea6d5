"""A one-off edit from Python, as in the seed's ``edit_image_with_instruction`` example."""

from __future__ import annotations

from pathlib import Path

from transcreate.errors import PermanentEditError, SetupError
from transcreate.jobs import EditJob
from transcreate.pipeline import guard, retrying
from transcreate.request import BackendName, RunRequest
from transcreate.wiring import build


def edit_image_with_instruction(
    image_path: str | Path,
    instruction: str,
    *,
    backend: BackendName = "dashscope",
    out: str | Path | None = None,
    retries: int = 2,
    retry_wait: float = 1.0,
    max_instruction_chars: int = 200,
) -> Path:
    """Edit one image with a natural-language instruction; returns the edited PNG's path.

    ``out`` defaults to ``<image stem>-edited.png`` in the current folder. The input checks, the
    policy, the instruction limit, retries and the result cache are those of a campaign run.
    """
    if backend == "local":
        raise SetupError("a one-off edit needs a model backend: dashscope, dify or openai")
    if not instruction.strip():
        raise SetupError("the instruction is empty; say what to change, e.g. 'make the shirt blue'")
    target = Path(out) if out else Path(f"{Path(image_path).stem}-edited.png")
    request = RunRequest(
        campaign="(one-off edit)",
        image=str(image_path),
        out=str(target.parent),
        backend=backend,
        mode="model",
        max_instruction_chars=max_instruction_chars,
    )
    adapters = build(request)
    job = EditJob(
        campaign="one-off",
        variant="edit",
        locale="und",
        template="",
        instruction=instruction.strip(),
        overlays=(),
        position="center",
        image_sha256=adapters.creative.sha256,
        backend=adapters.editor.identity,
    )
    _, blocked = guard([job], request, adapters.policy)
    if blocked:
        raise PermanentEditError(f"refused before any call: {blocked[0].error}")
    for attempt in retrying(retries, retry_wait):
        with attempt:
            edited = adapters.editor.edit(job, adapters.creative.data)
    target.write_bytes(edited)
    return target
