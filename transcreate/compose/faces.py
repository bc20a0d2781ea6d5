"""Faces on a creative: places copy must never cover, whatever the product mask says.

OpenCV's Viola-Jones cascades for frontal and profile human faces. They ship inside the
``opencv-python-headless`` wheel (4.x; 5.x no longer carries them), so nothing is downloaded at
run time, and they take about 0.1 s on a 640 px image. Measured on the photographs scikit-image
ships: the astronaut's face found (its box within a few pixels of the true one), nothing found on
the coffee, the rocket, the cat or the sample illustration. A cat's face close up is not found
(OpenCV's cat cascade fires on the cat's nose): animals are left to the product mask.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from transcreate.compose.saliency import ProductMask

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels

_WORK_SIDE = 640  # the long side faces are searched at: larger is slower and finds no more
_SMALLEST = 0.06  # of the image's shorter side: smaller faces are crowd, not a subject
_NEIGHBOURS = 5  # detections that must agree: fewer lets a cascade fire on texture
_GROW = (0.25, 0.45, 0.25, 0.3)  # of a face box, added left, top, right, bottom: hair and chin


_LOADING = threading.Lock()  # two threads importing cv2 at once see it half-initialised


@lru_cache(maxsize=1)
def _cascades() -> tuple[Any, Any]:
    with _LOADING:
        return _load()


def _load() -> tuple[Any, Any]:
    import cv2  # imported on first use: only the built-in editor needs it
    import cv2.data

    def load(name: str) -> Any:
        return cv2.CascadeClassifier(f"{cv2.data.haarcascades}haarcascade_{name}.xml")

    return load("frontalface_alt2"), load("profileface")


def find_faces(image: Image.Image) -> list[Box]:
    """Boxes around every face on ``image`` (with hair and chin), in its pixels; largest first."""
    frontal, profile = _cascades()  # cv2 loaded once, under a lock
    import cv2

    scale = min(1.0, _WORK_SIDE / max(image.size))
    small = image.convert("L")
    if scale < 1.0:
        small = small.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        )
    grey = cv2.equalizeHist(np.asarray(small))
    side = max(12, round(_SMALLEST * min(small.size)))
    found = []
    for cascade, flipped in ((frontal, False), (profile, False), (profile, True)):
        pixels = np.ascontiguousarray(grey[:, ::-1]) if flipped else grey
        for x, y, w, h in cascade.detectMultiScale(
            pixels, scaleFactor=1.1, minNeighbors=_NEIGHBOURS, minSize=(side, side)
        ):
            left = small.width - x - w if flipped else x
            found.append((int(left), int(y), int(w), int(h)))
    boxes: list[Box] = []
    for x, y, w, h in found:
        box = (
            max(0, math.floor((x - _GROW[0] * w) / scale)),
            max(0, math.floor((y - _GROW[1] * h) / scale)),
            min(image.width, math.ceil((x + w + _GROW[2] * w) / scale)),
            min(image.height, math.ceil((y + h + _GROW[3] * h) / scale)),
        )
        if not any(_overlap(box, kept) > 0.5 for kept in boxes):  # one face, two cascades
            boxes.append(box)
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def _overlap(a: Box, b: Box) -> float:
    """The shared area as a share of the smaller box."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(1, smaller)


_BODY = (1.3, 1.3)  # of a face's width, how far its body reaches left and right of it


def bodies(faces: Sequence[Box], canvas: tuple[int, int]) -> list[Box]:
    """Where the person under each face is: from the chin down to the frame's bottom, about
    three faces wide. A portrait's subject is the person, not only the face; the colour-based
    product finder misses a suit the colour of a flag behind it."""
    boxes = []
    for left, _, right, bottom in faces:
        width = right - left
        boxes.append(
            (
                max(0, round(left - _BODY[0] * width)),
                bottom,  # the shoulders start under the chin: beside the head is free
                min(canvas[0], round(right + _BODY[1] * width)),
                canvas[1],
            )
        )
    return boxes


def with_people(product: ProductMask, image: Image.Image) -> ProductMask:
    """The product mask with the faces on ``image`` in it, always, and, when the mask was found
    (not given by the user, who names the subject), the person under each face."""
    faces = find_faces(image)
    people = bodies(faces, image.size) if product.source == "saliency" else []
    return product.with_faces(faces, people)
