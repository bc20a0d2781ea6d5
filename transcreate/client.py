"""A one-off edit from Python, as in the seed's ``edit_image_with_instruction`` example."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from transcreate.errors import PermanentEditError, SetupError
from transcreate.jobs import EditJob
from transcreate.request import BackendName, RunRequest
from transcreate.run.execute import retrying
from transcreate.run.plan import guard
from transcreate.sheets import clean_text
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
    """Edit one image with a natural-language instruction; returns the edited image's path.

    ``out`` defaults to ``<image stem>-edited.png`` beside the image (in the current folder when
    the image is a link); its extension (.png, .jpg, .jpeg, .webp) picks the format. The input
    checks, the policy, the instruction limit, retries and the result cache are a campaign run's.
    """
    if backend == "local":
        raise SetupError("a one-off edit needs a model backend: dashscope, dify or openai")
    instruction = clean_text(instruction)  # what is checked is what is sent (no NUL, no ZWSP)
    if not instruction.strip():
        raise SetupError("the instruction is empty; say what to change, e.g. 'make the shirt blue'")
    target = Path(out) if out else default_output(str(image_path))
    image_format = output_format(target)  # checked now: a bad name fails before any paid call
    request = RunRequest(
        campaign="(one-off edit)",
        image=str(image_path),
        out=str(target.parent),
        backend=backend,
        mode="model",
        max_instruction_chars=max_instruction_chars,
    )
    adapters = build(request)
    creative = adapters.creative
    assert creative is not None, "a one-off edit's request names its image"
    job = EditJob(
        campaign="one-off",
        variant="edit",
        locale="und",
        template="",
        instruction=instruction.strip(),
        overlays=(),
        position="center",
        image_sha256=creative.sha256,
        backend=adapters.editor.identity,
    )
    _, blocked = guard([job], request, adapters.policy)
    if blocked:
        raise PermanentEditError(f"refused before any call: {blocked[0].error}")
    for attempt in retrying(retries, retry_wait):
        with attempt:
            edited = adapters.editor.edit(job, creative.data)
    target.write_bytes(encode_as(edited.png, image_format))
    return target


# Output formats by file extension, with the settings Pillow writes them with.
FORMATS: dict[str, tuple[str, dict[str, object]]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 92, "optimize": True}),
    ".jpeg": ("JPEG", {"quality": 92, "optimize": True}),
    ".webp": ("WEBP", {"quality": 92}),
}


def default_output(image: str) -> Path:
    """``<stem>-edited.png`` beside a local image; in the current folder for an s3:// or
    https:// one (it has no folder here)."""
    if "://" in image:
        stem = Path(image.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]).stem or "image"
        return Path(f"{stem}-edited.png")
    path = Path(image)
    return path.with_name(f"{path.stem}-edited.png")


def output_format(target: Path) -> str:
    """The extension of ``target`` if transcreate can write it; else a SetupError."""
    extension = target.suffix.lower()
    if extension not in FORMATS:
        raise SetupError(
            f"{target}: the output's extension is {extension or 'missing'}; end its name with "
            f"one of {', '.join(FORMATS)}"
        )
    if target.is_dir():
        raise SetupError(f"{target} is a folder; give a file name such as {target / 'edited.png'}")
    return extension


def encode_as(png: bytes, extension: str) -> bytes:
    """The edited PNG in the format its file extension names (JPEG has no alpha: on white)."""
    image_format, options = FORMATS[extension]
    if image_format == "PNG":
        return png
    with Image.open(io.BytesIO(png)) as image:
        picture = image.convert("RGBA")
    if image_format == "JPEG":
        background = Image.new("RGB", picture.size, (255, 255, 255))
        background.paste(picture, mask=picture.getchannel("A"))
        picture = background
    buffer = io.BytesIO()
    picture.save(buffer, format=image_format, **options)
    return buffer.getvalue()
