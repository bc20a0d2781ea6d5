"""The base image as a model is sent it: scaled to the long side the model wants, re-encoded
(PNG, or JPEG when PNG is too big), within the upload limit — once per process for a run's base.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image

from transcreate.editors.results import orientation
from transcreate.errors import PermanentEditError
from transcreate.images import decode, encode_png


@dataclass(frozen=True)
class PreparedImage:
    """The base image as it is sent to a model: scaled, re-encoded, within the upload limit."""

    data: bytes
    media_type: str  # image/png or image/jpeg
    sha256: str
    width: int
    height: int
    url: str | None = None  # a link to these same bytes a provider may fetch instead of an upload

    @property
    def extension(self) -> str:
        return "png" if self.media_type == "image/png" else "jpg"

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def prepare_image(data: bytes, max_side: int, max_bytes: int) -> PreparedImage:
    """Scale the long side down to ``max_side``, re-encode (PNG, or JPEG when PNG is too big).

    An upright RGB PNG or JPEG already within both limits is sent as it is: re-encoding it would
    only cost time, and its bytes (and so a link to the original) stay valid.
    """
    as_is = _acceptable_as_is(data, max_side, max_bytes)
    if as_is is not None:
        return as_is
    image = decode(data)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    encoded, media_type = encode_png(image), "image/png"
    if len(encoded) > max_bytes:
        for quality in (92, 85, 75):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            encoded, media_type = buffer.getvalue(), "image/jpeg"
            if len(encoded) <= max_bytes:
                break
    if len(encoded) > max_bytes:
        raise PermanentEditError(
            f"the base image is {len(encoded):,} bytes after scaling to {max_side}px and "
            f"re-encoding; the upload limit is {max_bytes:,}"
        )
    return PreparedImage(
        encoded, media_type, hashlib.sha256(encoded).hexdigest(), image.width, image.height
    )


def _acceptable_as_is(data: bytes, max_side: int, max_bytes: int) -> PreparedImage | None:
    if len(data) > max_bytes:
        return None
    with Image.open(io.BytesIO(data)) as image:
        upright = orientation(data) == 1  # no EXIF rotation to apply
        if image.format not in ("PNG", "JPEG") or image.mode != "RGB" or not upright:
            return None
        if max(image.size) > max_side:
            return None
        media_type = "image/png" if image.format == "PNG" else "image/jpeg"
        width, height = image.size
    return PreparedImage(data, media_type, hashlib.sha256(data).hexdigest(), width, height)


@lru_cache(maxsize=8)
def prepared_once(image: bytes, max_side: int, max_bytes: int) -> PreparedImage:
    # The same base image is prepared once per process, not once per job.
    return prepare_image(image, max_side, max_bytes)
