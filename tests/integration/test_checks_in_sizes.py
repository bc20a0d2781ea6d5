"""Checks of a model's output in an ad size compare it with the frame the model was sent: the one
the user's product mask decided, not one found again by saliency (the B1 case: model mode,
sizes, a product mask and checks flagged good outputs)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.drawing import typeset
from transcreate.compose.blocks import TextBlock
from transcreate.editors.model import ModelEditor
from transcreate.editors.prepare import PreparedImage
from transcreate.images import decode, encode_png
from transcreate.jobs import EditJob, Overlay
from transcreate.quality import OutputChecks
from transcreate.settings import ModelSettings

BASE = (1080, 1350)
PRODUCT = (40, 40, 420, 520)  # top left, drawn by the user: a quiet product
DECOY = (700, 860, 1040, 1300)  # bottom right: a loud prop, what saliency finds


class FaithfulModel:
    """A model that does exactly what it is asked and nothing else: the headline set in the band
    at the job's position of the image it is sent (the built-in typesetter, exact layout)."""

    identity = "faithful/1"

    def __init__(self, job: EditJob):
        self.job = job

    def edit_image(self, image: PreparedImage, instruction: str) -> bytes:
        blocks = [TextBlock(o.role, o.text, o.color) for o in self.job.overlays]
        edited, _ = typeset(
            decode(image.data), blocks, self.job.position, self.job.locale, layout="exact"
        )
        return encode_png(edited)


def textured_base() -> bytes:
    """Stripes everywhere (a frame shifted by a few dozen pixels differs almost everywhere), a
    quiet product at the top left, and a loud prop at the bottom right."""
    image = Image.new("RGB", BASE, (230, 225, 215))
    for left in range(0, BASE[0], 90):
        image.paste((40, 60, 90), (left, 0, left + 45, BASE[1]))
    image.paste((150, 140, 130), PRODUCT)
    image.paste((255, 0, 40), DECOY)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def product_mask() -> bytes:
    mask = Image.new("L", BASE, 0)
    mask.paste(255, PRODUCT)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def made() -> tuple[EditJob, bytes, bytes, object]:
    base, mask = textured_base(), product_mask()
    job = EditJob(
        campaign="c",
        variant="v",
        locale="en",
        template="default",
        instruction="Add 'BIG SALE' in white at the bottom centre",
        overlays=(Overlay("headline", "BIG SALE", "#FFFFFF"),),
        position="bottom-center",
        image_sha256="0" * 64,
        backend="faithful/1",
        size="landscape",
    )
    settings = ModelSettings(provider="faithful", base_url="http://127.0.0.1:9", model="m")
    editor = ModelEditor(FaithfulModel(job), settings, product_mask=mask)  # type: ignore[arg-type]
    return job, base, mask, editor.edit(job, base)


def test_a_good_model_output_in_an_ad_size_passes_its_checks(made) -> None:
    job, base, mask, edited = made
    assert edited.frame is not None and edited.frame.size == decode(edited.png).size
    assert OutputChecks("model", product_mask=mask).review_reason(job, base, edited) is None


def test_found_stored_it_is_compared_with_the_frame_the_mask_decided(made) -> None:
    job, base, mask, edited = made
    reason, layout = OutputChecks("model", product_mask=mask).review_stored(job, base, edited.png)
    assert reason is None
    assert layout == edited.layout and layout is not None and "reframe" in layout
    # Framed again without the mask (as the checks did before), the same good output is
    # flagged: the frame saliency finds is another crop of the base, so what changed (and so
    # where the copy is looked for) is not what the model changed.
    reason, _ = OutputChecks("model").review_stored(job, base, edited.png)
    assert reason is not None and ("change check" in reason or "copy check" in reason)
