"""The built-in editor: sets the localized copy on the creative with Pillow. No GPU, no network."""

from __future__ import annotations

from transcreate.errors import PermanentEditError, TypesettingError
from transcreate.fonts import check_text_support
from transcreate.images import decode, encode_png
from transcreate.jobs import EditJob
from transcreate.typesetting import TextBlock, compose


class LocalEditor:
    """Deterministic compositor: the same job and image always give the same PNG bytes."""

    # Bump when a change to typesetting changes pixels, so stored outputs are re-rendered.
    identity = "local/1"

    def __init__(self) -> None:
        check_text_support()  # fail at start-up, not on the first Thai job

    def edit(self, job: EditJob, image: bytes) -> bytes:
        blocks = [TextBlock(overlay.role, overlay.text, overlay.color) for overlay in job.overlays]
        try:
            edited, _ = compose(decode(image), blocks, job.position, job.locale)
        except TypesettingError as error:
            raise PermanentEditError(
                f"variant {job.variant}, locale {job.locale}: {error}"
            ) from None
        return encode_png(edited)
