"""The base creative: read once, checked, hashed. Its bytes never travel through Prefect."""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from transcreate.errors import CampaignError

logger = logging.getLogger(__name__)

# Pillow warns at MAX_IMAGE_PIXELS and refuses at twice that; we refuse at the limit itself so a
# decompression bomb never gets decoded. 40 MP is far above any ad creative (8K is 33 MP).
MAX_PIXELS = 40_000_000
MAX_BYTES = 5 * 1024 * 1024  # the seed's rule for uploads; RunRequest.max_image_mb changes it
#: The most pixels a creative is made from: a larger image (a camera's 24-40 MP) is made from a
#: copy scaled down to this once, as it is read. Memory goes with pixels, not with file size (a
#: 130 KB PNG of 40 MP took 5.6 GB at four edits at once; its 8 MP copy, 0.9 GB), and no ad
#: size needs more (a story is 2 MP; 8 MP is 3464 × 2309).
WORKING_PIXELS = 8_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")


@dataclass(frozen=True)
class BaseCreative:
    """The product or ad image every job starts from."""

    name: str
    data: bytes
    sha256: str
    width: int
    height: int
    format: str


def load_base_creative(
    path: str | Path, *, data: bytes | None = None, max_bytes: int = MAX_BYTES
) -> BaseCreative:
    """Read and check a base image (PNG, JPEG or WebP); CampaignError says what is wrong."""
    path = Path(path)
    if data is None:
        if path.is_dir():
            raise CampaignError(f"{path}: is a folder, not an image; give the image file's path")
        try:
            if path.stat().st_size > max_bytes:
                raise CampaignError(
                    f"{path}: base image is {path.stat().st_size:,} bytes; the limit is "
                    f"{max_bytes:,} (raise it with --max-image-mb, or max_image_mb in the flow)"
                )
            data = path.read_bytes()
        except FileNotFoundError:
            raise CampaignError(f"{path}: no such base image") from None
        except OSError as error:
            raise CampaignError(
                f"{path}: cannot read the base image ({error.strerror or error})"
            ) from None
    if len(data) > max_bytes:
        raise CampaignError(
            f"{path}: base image is {len(data):,} bytes; the limit is {max_bytes:,}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Image.DecompressionBombError(f"{image.width}×{image.height}")
                if image.format not in ACCEPTED_FORMATS:
                    raise CampaignError(
                        f"{path}: base image is {image.format}; use PNG, JPEG or WebP"
                    )
                if getattr(image, "is_animated", False):  # an animated WebP or PNG (APNG)
                    # Which frame is the creative is the designer's call: the first is often a
                    # blank lead-in (a run made white cards from one and said ok).
                    frames = getattr(image, "n_frames", 2)
                    raise CampaignError(
                        f"{path}: the image is animated ({frames} frames); export the frame "
                        "that is the creative as a still PNG, JPEG or WebP"
                    )
                width, height, image_format = image.width, image.height, image.format
                if image_format == "JPEG":
                    # An eighth of its size is decoded from all of its data: a truncated or
                    # corrupt file fails all the same, in half the time (a feed of thousands)
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()  # decodes fully: a truncated file fails here, not mid-run
        except UnidentifiedImageError:
            raise CampaignError(
                f"{path}: not a readable image (not PNG, JPEG or WebP data)"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise CampaignError(
                f"{path}: the image claims more than {MAX_PIXELS:,} pixels; refused as a "
                "possible decompression bomb"
            ) from None
        except (OSError, ValueError) as error:  # ValueError: a chunk inflating past Pillow's cap
            raise CampaignError(f"{path}: not a readable image ({error})") from None
    if width * height > WORKING_PIXELS:
        data, width, height, image_format = _working_copy(data, path)
    return BaseCreative(
        name=path.name,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        format=image_format,
    )


def _working_copy(data: bytes, path: Path) -> tuple[bytes, int, int, str]:
    """The image scaled to WORKING_PIXELS (upright, in sRGB, transparency kept), as PNG (JPEG
    for a photograph that came as one): its bytes, size and format."""
    with Image.open(io.BytesIO(data)) as image:
        original, source_format = image.size, image.format
        profile = image.info.get("icc_profile")
        if image.format == "JPEG":  # decoded at 1/2, 1/4 … of its size: a fraction of the memory
            scale = (WORKING_PIXELS / (image.width * image.height)) ** 0.5
            image.draft("RGB", (int(image.width * scale), int(image.height * scale)))
        upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    if upright.mode == "RGB":
        upright = in_srgb(upright, profile)
    factor = min(1.0, (WORKING_PIXELS / (upright.width * upright.height)) ** 0.5)
    target = (max(1, int(upright.width * factor)), max(1, int(upright.height * factor)))
    smaller = upright.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    made = "JPEG" if source_format == "JPEG" and smaller.mode == "RGB" else "PNG"
    smaller.save(buffer, made, **({"quality": 95} if made == "JPEG" else {}))
    logger.warning(
        "%s: %d×%d pixels; made from a copy scaled to %d×%d (%s pixels at most)",
        path, *original, *smaller.size, f"{WORKING_PIXELS:,}",
    )  # fmt: skip
    return buffer.getvalue(), smaller.width, smaller.height, made


# Transparent pixels are composited onto this colour: a creative's transparent corners are shown
# on white by every browser and design tool, while dropping the alpha channel turns them black.
BACKGROUND = (255, 255, 255)


def decode(data: bytes) -> Image.Image:
    """Decode image bytes to an upright RGB image (EXIF orientation applied).

    16-bit greyscale is scaled to 8 bits (a plain conversion clips it to white), and transparent
    pixels are composited onto white (``BACKGROUND``), not left black.
    """
    with Image.open(io.BytesIO(data)) as image:
        return in_srgb(flatten(ImageOps.exif_transpose(image)), image.info.get("icc_profile"))


def decode_with_alpha(data: bytes) -> Image.Image:
    """Decode an image that keeps its transparency (a logo): upright, RGBA; an opaque image is
    opaque RGBA."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        return upright.convert("RGBA")


#: A colour profile is a few kilobytes; one larger than this is not applied (nor ever copied).
MAX_PROFILE_BYTES = 1024 * 1024


def in_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """An RGB image in sRGB, without its embedded profile: the colours a profile (Adobe RGB,
    Display P3) describes are converted once, and outputs carry no profile — a 4.5 MB one was
    copied into every output, and the PNGs could not be opened again. A profile that cannot be
    read, or is too large to trust, is ignored (the pixels are taken as sRGB)."""
    image.info.pop("icc_profile", None)
    if not profile or len(profile) > MAX_PROFILE_BYTES or image.mode != "RGB":
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    if converted is None:  # profileToProfile returns None only when told to work in place
        return image
    converted.info.pop("icc_profile", None)
    return converted


_SRGB = ImageCms.createProfile("sRGB")


def as_image(image: bytes | Image.Image) -> Image.Image:
    """``image`` decoded (`decode`) when it is bytes; as it is when it is decoded already."""
    return image if isinstance(image, Image.Image) else decode(image)


def flatten(image: Image.Image) -> Image.Image:
    """An RGB copy of any decoded image: 16-bit scaled to 8, transparency onto BACKGROUND."""
    if image.mode.startswith("I;16") or image.mode == "I":
        extrema = image.getextrema()
        top = extrema[1] if isinstance(extrema[1], int | float) else 255
        high = 65535.0 if image.mode.startswith("I;16") else float(max(255, top))
        transparency = image.info.get("transparency")
        image = image.convert("I").point(lambda value: value * (255 / high)).convert("L")
        if isinstance(transparency, int):  # a tRNS grey value: that level is see-through
            image.info["transparency"] = round(transparency * 255 / high)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    layer = image.convert("RGBA")
    background = Image.new("RGBA", layer.size, (*BACKGROUND, 255))
    background.alpha_composite(layer)
    return background.convert("RGB")


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with no timestamps or other metadata, so equal images give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
