"""Editor backends: turn (job, base image) into the edited image. One small protocol, a registry.

A backend is named in configuration (``--backend dashscope``); the registry maps the name to
``module:Class`` so a backend's dependencies load only when it is used. ``local`` is the built-in
compositor; the others are image-edit models reached over HTTP (see `editors.model`).

Modes say who sets the localized copy:
- ``overlay``: the local compositor sets it (the only mode of ``local``);
- ``model``: the model draws it, following the instruction (the seed's way);
- ``model+overlay``: the model makes only the non-text edits the template asks for, then the
  compositor sets the copy exactly, so Thai and Chinese text is always right.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from PIL import Image

from transcreate.errors import SetupError
from transcreate.jobs import EditJob

Mode = Literal["overlay", "model", "model+overlay"]
MODES: tuple[Mode, ...] = ("overlay", "model", "model+overlay")


@dataclass(frozen=True)
class Edited:
    """What an editor made, and what it did: the checks and the manifest read this, so nothing
    parses the PNG back or frames the base again to learn it."""

    png: bytes  # the output, PNG; it carries ``layout`` too, for whoever finds it stored later
    #: the layout used: where the product is, each line as set (box, size, colours, contrast),
    #: what was dropped, and ``reframe`` (how the base was framed in an ad size). None: a model
    #: drew the copy in the base's own size, so there is nothing to record.
    layout: dict[str, Any] | None = None
    #: the base as this edit framed it for an ad size (what a model was sent, what a change
    #: check compares against); None when the edit started from the base as given
    frame: Image.Image | None = field(default=None, compare=False, repr=False)

    @property
    def reframe(self) -> dict[str, Any] | None:
        """How the base was reframed and which copy was dropped, for the manifest."""
        reframe = (self.layout or {}).get("reframe")
        if not isinstance(reframe, dict):
            return None
        return {**reframe, "dropped": (self.layout or {}).get("dropped", [])}


class Editor(Protocol):
    """Makes one localized creative."""

    #: Names the backend and everything about it that changes outputs ("local/1",
    #: "dashscope/qwen-image-edit-plus"); part of every job key, so a change re-renders.
    identity: str

    def edit(self, job: EditJob, image: bytes) -> Edited:
        """The edited image with its record; raises RetryableEditError or PermanentEditError."""
        ...


EDITORS: dict[str, tuple[str, str]] = {
    # name: ("module:Class", what to set up when it cannot load). Model backends name their
    # ModelAPI class; `transcreate.wiring` wraps it in a ModelEditor.
    "local": ("transcreate.editors.local:LocalEditor", "built in"),
    "dashscope": ("transcreate.editors.dashscope:DashScopeAPI", "set DASHSCOPE_API_KEY"),
    "dify": ("transcreate.editors.dify:DifyWorkflowAPI", "set DIFY_API_KEY and DIFY_BASE_URL"),
    "openai": ("transcreate.editors.openai:OpenAIImagesAPI", "set OPENAI_API_KEY, OPENAI_BASE_URL"),
}


def default_mode(backend: str) -> Mode:
    return "overlay" if backend == "local" else "model"


def check_mode(backend: str, mode: str) -> Mode:
    """The mode if the backend supports it; else a clear error."""
    if mode not in MODES:
        raise SetupError(f"unknown mode {mode!r}; known modes: {', '.join(MODES)}")
    if backend == "local" and mode != "overlay":
        raise SetupError(f"backend 'local' has no model: mode {mode!r} needs a model backend")
    if backend != "local" and mode == "overlay":
        raise SetupError(
            f"mode 'overlay' is the local editor's; with backend {backend!r} use mode model or "
            "model+overlay (or backend local)"
        )
    return mode


def load_editor_class(name: str) -> Any:
    """The class registered under ``name``, imported now; an unknown name lists the known ones."""
    try:
        target, hint = EDITORS[name]
    except KeyError:
        raise SetupError(
            f"unknown backend {name!r}; known backends: {', '.join(sorted(EDITORS))}"
        ) from None
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SetupError(f"backend {name!r} cannot load ({error}); {hint}") from None
    return getattr(module, class_name)


class ByLocale:
    """Mode auto on a model backend: each job goes to its locale's editor (the model for copy it
    draws reliably, `ModelThenOverlay` for the rest), the default one where none is named."""

    def __init__(self, default: Editor, routes: dict[str, Editor]):
        self.default = default
        self.routes = routes
        self.identity = default.identity

    def editor_for(self, locale: str) -> Editor:
        return self.routes.get(locale, self.default)

    @property
    def takes_references(self) -> bool:
        return bool(getattr(self.default, "takes_references", False))

    def edit(self, job: EditJob, image: bytes) -> Edited:
        return self.editor_for(job.locale).edit(job, image)


class ModelThenOverlay:
    """Mode ``model+overlay``: the model's non-text edit (if the instruction asks for one), then
    the copy set exactly by the local compositor — at full resolution, since a `ModelEditor`
    returns its result at the base image's size."""

    def __init__(self, model: Editor, overlay: Editor):
        self.model = model
        self.overlay = overlay
        self.identity = f"{model.identity}+{overlay.identity}"

    def edit(self, job: EditJob, image: bytes) -> Edited:
        # The model edits the base as it is (one paid call serves every ad size of the job:
        # its size is not part of the call); the compositor reframes it and sets the copy.
        if not job.instruction:
            return self.overlay.edit(job, image)
        # the model draws no copy here: the whole product counts for its drift
        # (and places no logo: the compositor does, with the copy)
        scene = self.model.edit(
            replace(job, size=None, overlays=(), logo_sha256=None, logo_source=None), image
        )
        made = self.overlay.edit(job, scene.png)
        drifted = (scene.layout or {}).get("drift")
        if drifted is None or made.layout is None:
            return made
        from transcreate.editors.results import with_layout_record

        layout = {**made.layout, "drift": drifted}  # the compositor's record, and the model's
        return replace(made, png=with_layout_record(made.png, layout), layout=layout)
