"""Editor backends: turn (job, base image) into the edited image. One small protocol, a registry.

A backend is named in configuration (``--backend local``); the registry maps the name to
``module:Class`` so a backend's dependencies load only when it is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from transcreate.errors import SetupError
from transcreate.jobs import EditJob


class Editor(Protocol):
    """Makes one localized creative."""

    #: Names the backend and everything about it that changes outputs ("local/1",
    #: "dashscope/qwen-image-edit-plus"); part of every job key, so a change re-renders.
    identity: str

    def edit(self, job: EditJob, image: bytes) -> bytes:
        """The edited image as PNG bytes; raises RetryableEditError or PermanentEditError."""
        ...


EDITORS: dict[str, tuple[str, str]] = {
    # name: ("module:Class", what to install or configure when it cannot load)
    "local": ("transcreate.editors.local:LocalEditor", "built in"),
}


def open_editor(name: str, **settings: Any) -> Editor:
    """The editor registered under ``name``; an unknown name lists the known ones."""
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
    editor: Editor = getattr(module, class_name)(**settings)
    return editor
