"""Zones of the canvas (top-left … bottom-right) around the product, and the room each leaves
for the copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from transcreate.campaign import POSITIONS
from transcreate.compose.blocks import Box
from transcreate.compose.saliency import ProductMask

MARGIN = 0.05  # of the shorter side, between the copy and the frame
_CLEARANCE = 0.025  # of the shorter side, between the copy and the product
_FACE_WEIGHT = 10_000  # a face cell, against a product cell, for copy that must cover one
_SLIDE = 0.25  # of the canvas, how far the block may slide from its anchor within a zone


# --- finding room for the copy ------------------------------------------------------------------


def parts(position: str) -> tuple[str, str]:
    vertical, _, horizontal = position.partition("-")
    return vertical, horizontal or "center"


_ROW = {"top": 0, "center": 1, "bottom": 2}
_COLUMN = {"left": 0, "center": 1, "right": 2}


def zones(preferred: str) -> list[str]:
    """Every position, nearest to the preferred one first; along the row before the column,
    since a headline asked for at the bottom should rather stay at the bottom."""
    return sorted(POSITIONS, key=lambda zone: (distance(zone, preferred), POSITIONS.index(zone)))


def distance(zone: str, preferred: str) -> float:
    (v, h), (pv, ph) = parts(zone), parts(preferred)
    return 1.5 * abs(_ROW[v] - _ROW[pv]) + abs(_COLUMN[h] - _COLUMN[ph])


def anchor(zone: str, size: tuple[int, int], area: Box, margin: int) -> tuple[int, int]:
    """Where a block of that size sits in the zone of the area the copy may use."""
    width, height = size
    left, top, right, bottom = area
    vertical, horizontal = parts(zone)
    x = {"left": left + margin, "right": right - margin - width}.get(
        horizontal, (left + right - width) // 2
    )
    y = {"top": top + margin, "bottom": bottom - margin - height}.get(
        vertical, (top + bottom - height) // 2
    )
    return x, y


@dataclass(frozen=True)
class Room:
    """Where a product leaves room: its grid (True where copy may not go) and running sums."""

    grid: npt.NDArray[np.bool_]
    cell: float
    sums: npt.NDArray[np.int64]
    #: The part of the canvas copy may use at all (a size's safe zone); None: all of it.
    bounds: Box | None = None

    @classmethod
    def of(
        cls,
        grid: npt.NDArray[np.bool_],
        cell: float,
        bounds: Box | None = None,
        faces: npt.NDArray[np.bool_] | None = None,
    ) -> Room:
        weights = grid.astype(np.int64)
        if faces is not None:  # copy that must cover something covers anything but a face
            weights += _FACE_WEIGHT * faces
        sums = np.zeros((grid.shape[0] + 1, grid.shape[1] + 1), dtype=np.int64)
        sums[1:, 1:] = weights.cumsum(axis=0).cumsum(axis=1)
        return cls(grid, cell, sums, bounds)

    @classmethod
    def around(cls, product: ProductMask | None, canvas: tuple[int, int]) -> Room:
        if product is None:
            cell = max(canvas) / 96
            shape = (math.ceil(canvas[1] / cell), math.ceil(canvas[0] / cell))
            return cls.of(np.zeros(shape, dtype=bool), cell)
        grown = product.grown(_CLEARANCE * min(canvas))
        grid = grown.grid
        if product.safe is not None:  # outside the safe zone is as closed as the product
            grid = grid.copy()
            left, top, right, bottom = product.safe
            inside = np.zeros_like(grid)
            inside[
                math.ceil(top / grown.cell) : math.floor(bottom / grown.cell),
                math.ceil(left / grown.cell) : math.floor(right / grown.cell),
            ] = True
            grid |= ~inside
        faces = None
        if product.faces:
            faces = np.zeros_like(grid)
            for left, top, right, bottom in product.faces:
                faces[
                    math.floor(top / grown.cell) : math.ceil(bottom / grown.cell),
                    math.floor(left / grown.cell) : math.ceil(right / grown.cell),
                ] = True
        return cls.of(grid, grown.cell, product.safe, faces)

    def _covered(self, box: Box) -> int:
        left, top, right, bottom = box
        rows, columns = self.grid.shape
        r0, r1 = (
            min(rows, max(0, math.floor(top / self.cell))),
            min(rows, math.ceil(bottom / self.cell)),
        )
        c0, c1 = (
            min(columns, max(0, math.floor(left / self.cell))),
            min(columns, math.ceil(right / self.cell)),
        )
        s = self.sums
        return int(s[r1, c1] - s[r0, c1] - s[r1, c0] + s[r0, c0])

    def places(self, size: tuple[int, int], canvas: tuple[int, int], margin: int) -> Places | None:
        """Every cell-aligned top-left corner a block of that size may take inside the margins,
        with how many product cells it would cover there."""
        width, height = size
        cell = self.cell
        x0, y0, x1, y1 = self.bounds or (0, 0, *canvas)
        c_lo, r_lo = math.ceil((x0 + margin) / cell), math.ceil((y0 + margin) / cell)
        c_hi = math.floor((x1 - margin - width) / cell)
        r_hi = math.floor((y1 - margin - height) / cell)
        if c_hi < c_lo or r_hi < r_lo:
            return None
        across, down = math.ceil(width / cell), math.ceil(height / cell)
        s = np.pad(self.sums, ((0, down + 1), (0, across + 1)), mode="edge")
        top, left = slice(r_lo, r_hi + 1), slice(c_lo, c_hi + 1)
        bottom, right = slice(r_lo + down, r_hi + down + 1), slice(c_lo + across, c_hi + across + 1)
        covered = s[bottom, right] - s[top, right] - s[bottom, left] + s[top, left]
        return Places(
            self, size, np.arange(c_lo, c_hi + 1) * cell, np.arange(r_lo, r_hi + 1) * cell, covered
        )


@dataclass(frozen=True)
class Places:
    room: Room
    size: tuple[int, int]
    xs: npt.NDArray[np.floating[Any]]
    ys: npt.NDArray[np.floating[Any]]
    covered: npt.NDArray[np.int64]  # rows × columns of corners

    def spot(
        self, zone: str, area: Box, canvas: tuple[int, int], margin: int, *, cover: bool = False
    ) -> tuple[int, int, float, int] | None:
        """The corner nearest the zone's anchor in the area (within a slide of it) where the
        block covers nothing (or, with ``cover``, the least): x, y, distance (a share of the
        canvas) and the cells covered; None when the zone has no room."""
        x0, y0 = anchor(zone, self.size, area, margin)
        width, height = self.size
        left, top, right, bottom = self.room.bounds or (0, 0, *canvas)
        inside = (
            left + margin <= x0 <= right - margin - width
            and top + margin <= y0 <= bottom - margin - height
        )  # an area taller than the block's room puts its anchor past the frame's edge
        if inside and self.room._covered((x0, y0, x0 + width, y0 + height)) == 0:
            return x0, y0, 0.0, 0
        across = np.abs(self.xs - x0) / canvas[0]
        down = np.abs(self.ys - y0) / canvas[1]
        near_x, near_y = across <= _SLIDE, down <= _SLIDE
        if not near_x.any() or not near_y.any():
            return None
        covered = self.covered[np.ix_(near_y, near_x)]
        distance = np.hypot(down[near_y][:, None], across[near_x][None, :])
        if cover:
            best = int(np.lexsort((distance.ravel(), covered.ravel()))[0])
        else:
            distance = np.where(covered == 0, distance, np.inf)
            best = int(np.argmin(distance))
            if not math.isfinite(float(distance.flat[best])):
                return None
        row, column = divmod(best, covered.shape[1])
        x = round(float(self.xs[near_x][column]))
        y = round(float(self.ys[near_y][row]))
        return x, y, float(distance.flat[best]), int(covered.flat[best])
