"""A one-off edit from Python, as in the seed's ``edit_image_with_instruction`` example."""

from __future__ import annotations

from pathlib import Path

from transcreate.editors import open_editor
from transcreate.errors import SetupError
from transcreate.images import load_base_creative
from transcreate.jobs import EditJob
from transcreate.pipeline import retrying


def edit_image_with_instruction(
    image_path: str | Path,
    instruction: str,
    *,
    backend: str = "dashscope",
    out: str | Path | None = None,
    retries: int = 2,
    retry_wait: float = 1.0,
) -> Path:
    """Edit one image with a natural-language instruction; returns the edited PNG's path.

    ``out`` defaults to ``<image stem>-edited.png`` in the current folder. Retries, the result
    cache and the input checks are the same as in a campaign run.
    """
    if backend == "local":
        raise SetupError("a one-off edit needs a model backend: dashscope, dify or openai")
    if not instruction.strip():
        raise SetupError("the instruction is empty; say what to change, e.g. 'make the shirt blue'")
    creative = load_base_creative(image_path)
    editor = open_editor(backend, "model")
    job = EditJob(
        campaign="one-off",
        variant="edit",
        locale="und",
        template="",
        instruction=instruction.strip(),
        overlays=(),
        position="center",
        image_sha256=creative.sha256,
        backend=editor.identity,
    )
    for attempt in retrying(retries, retry_wait):
        with attempt:
            edited = editor.edit(job, creative.data)
    target = Path(out) if out else Path(f"{Path(image_path).stem}-edited.png")
    target.write_bytes(edited)
    return target
