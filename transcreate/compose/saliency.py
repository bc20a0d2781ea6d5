"""Where the product is on a creative: the region copy must not cover.

An ad's product shot is a subject on a backdrop, and the backdrop is what reaches the frame's edge.
Each pixel is described by its colour and its texture (local contrast) on a coarse grid, and the
product is what looks like (almost) no part of the frame's border: plain numpy on a grid of about
96 cells on the long side. This is the boundary prior of salient-object detection (Wei et al.,
"Geodesic saliency using background priors", ECCV 2012) in its simplest form. It needs no model
and no new binary dependency (OpenCV's saliency module would add a 60 MB wheel for the same
coarse map, and its spectral-residual map marks edges rather than the subject's whole
silhouette); gradients, stripes and noise on the backdrop all occur on the border too, so they
are not taken for the product. Its limit: a product cut by the frame's edge looks like backdrop
there — a user mask (``mask_from_image``) wins whenever it is given. A close-up is that case at its
extreme (a cat's face reaching every edge: the border prior finds only its nose); a photographer
shoots one with a soft backdrop, so when the border prior finds almost nothing and part of the
frame is out of focus, what is in focus is the subject too (``_in_focus``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter, UnidentifiedImageError

from transcreate.errors import CampaignError

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels
Grid = npt.NDArray[np.bool_]

_CELLS = 96  # grid cells on the long side
_BORDER = 2  # cells of the frame's border taken as backdrop
_SAMPLES = 384  # border cells compared with every cell
#: Border cells a cell must resemble to be backdrop: a few, not one, so that what touches the
#: border only in a spot (launch-pad lights under a rocket, a flag's white stripe beside a
#: white suit) does not make everything of its colour backdrop. Measured on scikit-image's
#: photographs (bench/photos.py): with one, the rocket and most of the astronaut were missed.
_RESEMBLED = 2
_DISTANCE = 28.0  # colour distance (0-255 scale) from every border cell that makes a cell product
_TEXTURE = 1.5  # weight of the local-contrast feature against the colour ones
_MIN_AREA = 0.002  # of the grid: smaller specks are noise, not a product
#: Below this share of the frame the border prior has found a spot, not a subject: the photo may
#: be a close-up. Measured: the cat 2.6 %; a thin rocket 6.4 %, the sample bottle 14 %.
_CLOSE_UP = 0.05
_FOCUS_SIDE = 384  # px on the long side where detail is measured (the same blur at any size)
_SHARP = 0.25  # of the 90th percentile of detail: in focus
_SOFT = 0.12  # below this share of it: out of focus
_SOFT_BACKDROP = 0.15  # a shallow-focus photo has at least this share of its frame out of focus


@dataclass(frozen=True)
class ProductMask:
    """The product's cells on a coarse grid over the canvas, and its bounding box in pixels."""

    grid: Grid  # True where the product is; rows × columns
    cell: float  # pixels per cell
    canvas: tuple[int, int]
    source: str  # "saliency" | "mask"
    #: Faces found on the canvas (see ``faces.find_faces``): in the grid too, whatever the source.
    faces: tuple[Box, ...] = ()
    #: Where copy may go in an ad size whose platform covers parts of the frame (its safe zone);
    #: None: the whole canvas.
    safe: Box | None = None

    @property
    def box(self) -> Box | None:
        rows = np.flatnonzero(self.grid.any(axis=1))
        columns = np.flatnonzero(self.grid.any(axis=0))
        if not len(rows):
            return None
        width, height = self.canvas
        return (
            max(0, math.floor(columns[0] * self.cell)),
            max(0, math.floor(rows[0] * self.cell)),
            min(width, math.ceil((columns[-1] + 1) * self.cell)),
            min(height, math.ceil((rows[-1] + 1) * self.cell)),
        )

    def covers(self, box: Box) -> bool:
        """Whether a box in pixels touches any product cell."""
        left, top, right, bottom = box
        rows = slice(max(0, math.floor(top / self.cell)), math.ceil(bottom / self.cell))
        columns = slice(max(0, math.floor(left / self.cell)), math.ceil(right / self.cell))
        return bool(self.grid[rows, columns].any())

    def share(self, box: Sequence[float]) -> float:
        """The share of a box in pixels (its cells) that is product."""
        left, top, right, bottom = box
        rows = slice(max(0, math.floor(top / self.cell)), max(1, math.ceil(bottom / self.cell)))
        columns = slice(max(0, math.floor(left / self.cell)), max(1, math.ceil(right / self.cell)))
        cells = self.grid[rows, columns]
        return float(cells.mean()) if cells.size else 0.0

    def grown(self, pixels: float) -> ProductMask:
        """The mask widened by a margin of that many pixels on every side."""
        cells = max(1, math.ceil(pixels / self.cell))
        grid = _dilate(self.grid, cells)
        return replace(self, grid=grid)

    def with_faces(self, faces: Sequence[Box], bodies: Sequence[Box] = ()) -> ProductMask:
        """The mask with every face's cells in it (copy keeps off a face whatever the mask
        says), and the cells of the person under it (``faces.bodies``): the subject too."""
        if not faces and not bodies:
            return self
        grid = self.grid.copy()
        for left, top, right, bottom in [*faces, *bodies]:
            grid[
                math.floor(top / self.cell) : math.ceil(bottom / self.cell),
                math.floor(left / self.cell) : math.ceil(right / self.cell),
            ] = True
        return replace(self, grid=grid, faces=tuple(faces))


def _grid_size(canvas: tuple[int, int], cells: int = _CELLS) -> tuple[tuple[int, int], float]:
    cell = max(canvas) / cells
    return (max(1, math.ceil(canvas[0] / cell)), max(1, math.ceil(canvas[1] / cell))), cell


def _dilate(grid: Grid, cells: int) -> Grid:
    image = Image.fromarray(grid.astype(np.uint8) * 255)
    grown = image.filter(ImageFilter.MaxFilter(2 * cells + 1))
    return np.asarray(grown) > 0


def _fill_holes(grid: Grid) -> Grid:
    """Cells enclosed by the product are product too (a label the colour of the backdrop)."""
    import cv2  # on first use, as faces.py does

    # OpenCV's fill (4-connected, as Pillow's): Pillow's is a Python loop, 3 ms on a 48-cell
    # grid and four times that on the layout's, paid by every local render and drift check
    padded = np.pad(grid, 1).astype(np.uint8) * 255
    cv2.floodFill(padded, None, (0, 0), 128)
    outside: Grid = padded[1:-1, 1:-1] == 128
    return ~outside


def _drop_specks(grid: Grid) -> Grid:
    """Without cells that have fewer than two product neighbours (noise), keeping thin parts
    such as a pump or a strap; nothing at all if what is left is too small to be a product."""
    for _ in range(2):
        padded = np.pad(grid, 1).astype(np.int8)
        neighbours = sum(
            padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if dy or dx
        )
        grid = grid & (neighbours >= 2)
    return grid if grid.sum() >= _MIN_AREA * grid.size else np.zeros_like(grid)


def product_mask(image: Image.Image, grid_cells: int = _CELLS) -> ProductMask:
    """The product's region found by how unlike the frame's border each part of the image is;
    ``grid_cells`` on the long side (fewer: a coarser region, found in a fraction of the time)."""
    size, cell = _grid_size(image.size, grid_cells)
    small = image.convert("RGB").resize(size, Image.Resampling.BOX)
    colour = np.asarray(small, dtype=np.float32)
    smooth = np.asarray(small.filter(ImageFilter.BoxBlur(1)), dtype=np.float32)
    # Local contrast: how much a cell differs from its neighbourhood (stripes, noise, print).
    texture = np.abs(colour - smooth).mean(axis=2, keepdims=True) * _TEXTURE
    features = np.concatenate([smooth, texture], axis=2)
    rows, columns = features.shape[:2]
    ring = np.zeros((rows, columns), dtype=bool)
    ring[:_BORDER, :] = ring[-_BORDER:, :] = ring[:, :_BORDER] = ring[:, -_BORDER:] = True
    border = features[ring]
    if len(border) > _SAMPLES:
        border = border[np.linspace(0, len(border) - 1, _SAMPLES).astype(int)]
    cells = features.reshape(-1, features.shape[2])
    # Squared distance from each cell to every border cell: |a|² + |b|² - 2a·b, one matmul; a
    # cell is product when fewer than _RESEMBLED border cells are within _DISTANCE of it.
    squared = (
        (cells**2).sum(axis=1)[:, None] + (border**2).sum(axis=1)[None, :] - 2 * cells @ border.T
    )
    nth = min(_RESEMBLED, len(border)) - 1
    nearest = np.partition(squared, nth, axis=1)[:, nth]
    grid = (nearest > _DISTANCE**2).reshape(rows, columns)
    grid[ring] = False
    grid = _fill_holes(_drop_specks(grid))
    if grid.mean() < _CLOSE_UP and (focused := _in_focus(image, size, ring)) is not None:
        grid |= focused
    return ProductMask(grid, cell, image.size, "saliency")


def _in_focus(image: Image.Image, size: tuple[int, int], ring: Grid) -> Grid | None:
    """The cells in focus, when the photo has a soft backdrop that reaches the frame's edge (a
    close-up); None for a photo sharp all over (wood grain under a cup is as sharp as the cup,
    so focus there says nothing about the subject)."""
    scale = _FOCUS_SIDE / max(image.size)
    grey = image.convert("L")
    if scale < 1:
        grey = grey.resize((round(image.width * scale), round(image.height * scale)))
    pixels = np.pad(np.asarray(grey, dtype=np.float32), 1, mode="edge")
    laplacian = np.abs(
        4 * pixels[1:-1, 1:-1]
        - pixels[:-2, 1:-1]
        - pixels[2:, 1:-1]
        - pixels[1:-1, :-2]
        - pixels[1:-1, 2:]
    )
    small = Image.fromarray(np.clip(laplacian, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BOX
    )
    detail = np.asarray(small.filter(ImageFilter.BoxBlur(2)), dtype=np.float32)
    scale_of_detail = float(np.percentile(detail, 90))
    soft = detail < _SOFT * scale_of_detail
    if scale_of_detail <= 0 or soft.mean() < _SOFT_BACKDROP or not soft[ring].any():
        return None
    sharp = detail >= _SHARP * scale_of_detail
    sharp[ring] = False
    return _fill_holes(_drop_specks(sharp))


def mask_from_image(data: bytes, canvas: tuple[int, int]) -> ProductMask:
    """A user's mask (white or opaque where the product is) fitted to the canvas's grid."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            mask = opened.getchannel("A") if opened.mode in ("RGBA", "LA") else opened.convert("L")
            mask.load()
    except UnidentifiedImageError:  # its message is the repr of an in-memory buffer
        raise CampaignError(
            "the product mask is not a readable image (not PNG, JPEG or WebP data)"
        ) from None
    except (OSError, ValueError) as error:
        raise CampaignError(f"the product mask is not a readable image ({error})") from None
    size, cell = _grid_size(canvas)
    binary = mask.resize(canvas).point(lambda value: 255 if value > 127 else 0)
    # A cell is product if any of its pixels is: the mask's edge is never rounded away.
    grid = np.asarray(binary.resize(size, Image.Resampling.BOX)) > 0
    return ProductMask(grid, cell, canvas, "mask")
