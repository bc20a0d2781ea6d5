"""Instruction text: sandboxed Jinja templates + gettext catalogs, one environment per locale.

Spreadsheet text only ever enters a template as a *variable*: it is never compiled, so a cell such
as ``{{ ''.__class__ }}`` is printed as written. The sandbox guards against unsafe templates too.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from babel.core import get_global
from babel.core import parse_locale as split_identifier
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.bccache import BytecodeCache, FileSystemBytecodeCache
from jinja2.sandbox import SandboxedEnvironment

from transcreate.errors import TemplateError
from transcreate.locales import babel_name, parse_locale, script_of
from transcreate.resources import data_dir

VOCABULARY_TEMPLATE = "_vocabulary.j2"

#: The language an instruction is written in: ``locale`` (the copy's own language), ``en``,
#: ``zh``, or ``auto`` (decided by the backend and model, see `instruction_language`). The copy
#: itself is always the locale's, quoted verbatim inside the instruction.
InstructionLanguage = Literal["auto", "locale", "en", "zh"]
# Scripts Qwen-Image-Edit is documented to draw: "precise bilingual text editing (Chinese and
# English)". Copy in any other script is only reliable when the compositor sets it.
MODEL_SCRIPTS = frozenset({"Latn", "Hans", "Hant", "Hani"})


def instruction_language(choice: str, backend: str, model: str = "") -> str:
    """``locale``, ``en`` or ``zh``: the language instructions are written in for this run.

    ``auto``: Simplified Chinese for Qwen-Image-Edit (every DashScope and Dify model, and an
    OpenAI-compatible server whose model name says Qwen); English for another OpenAI-compatible
    model (gpt-image …); the copy's own language for the local editor, which reads no instruction.

    Why Chinese: Model Studio's API reference lists Chinese and English as the languages of the
    ``text`` prompt ("Supports Chinese and English, maximum 800 characters. Each Chinese
    character, letter, number, or symbol counts as one character" —
    https://www.alibabacloud.com/help/en/model-studio/qwen-image-edit-api). Of the two, Chinese
    says the same instruction in about a third of the characters, which leaves the length budget
    (``max_instruction_chars``) to the copy itself, and it is the language of Alibaba's own
    examples for the model and of the seed's (“将背景换成白色，并删除左上角水印”).
    """
    if choice != "auto":
        return choice
    if backend == "local":
        return "locale"
    if backend == "openai" and "qwen" not in model.lower():
        return "en"
    return "zh"


def model_may_misdraw(locale: str) -> bool:
    """Whether a model drawing the copy may get this locale's script wrong (Thai, Arabic …)."""
    return script_of(locale) not in MODEL_SCRIPTS


def template_names(templates: Path | None = None) -> list[str]:
    """Names a campaign row may ask for in its ``template`` column (``default`` → default.j2)."""
    folder = templates or data_dir("templates")
    return sorted(p.stem for p in folder.glob("*.j2") if not p.name.startswith("_"))


def load_translations(locale: str, catalogs: Path | None = None) -> NullTranslations:
    """The locale's catalog: its ``.mo`` when up to date, else its ``.po`` compiled in memory.

    A locale without a catalog gets the English source wording (and formats in its own CLDR style).
    """
    folder = catalogs or data_dir("locales")
    parsed = parse_locale(locale)
    likely_subtags = get_global("likely_subtags")
    # zh-TW is written in Traditional characters: its script is the likely one for its region.
    regional = likely_subtags.get(f"{parsed.language}_{parsed.territory}", "")
    script = parsed.script or (split_identifier(regional)[2] if regional else None)
    candidates = [babel_name(locale)]
    if script:
        candidates.append(f"{parsed.language}_{script}")
    # en-US may borrow en's wording; zh-Hant (zh-TW) must not borrow zh's Simplified characters.
    likely = likely_subtags.get(parsed.language, "")
    if not script or f"_{script}_" in f"_{likely}_":
        candidates.append(parsed.language)
    for candidate in dict.fromkeys(candidates):
        po = folder / candidate / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            with mo.open("rb") as handle:
                return Translations(handle, domain="messages")
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=candidate)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain="messages")
    return NullTranslations()


def has_catalog(locale: str, catalogs: Path | None = None) -> bool:
    """Whether the locale has its own wording (not the English fallback)."""
    return type(load_translations(locale, catalogs)) is not NullTranslations


@lru_cache(maxsize=1)
def _bytecode_cache() -> BytecodeCache | None:
    """Jinja's cache of compiled templates, in a folder of the temp dir that it checks only this
    user owns and may write; None where it cannot make one (templates are then compiled anew)."""
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


class InstructionRenderer:
    """Renders instruction templates for one locale. Thread-safe; build it once per locale."""

    def __init__(self, locale: str, templates: Path | None = None, catalogs: Path | None = None):
        self.locale = locale
        self.templates = templates or data_dir("templates")
        self.environment = SandboxedEnvironment(
            # FileSystemLoader refuses names with '..', so a template name cannot climb out.
            loader=FileSystemLoader(str(self.templates)),
            extensions=["jinja2.ext.i18n"],
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            auto_reload=False,  # templates do not change during a run: no stat per render
            # Compiled templates kept between processes (Jinja's own cache: a folder only this
            # user may write, entries keyed by the template's path and checked against its
            # source); compiling them was a tenth of a second of every run.
            bytecode_cache=_bytecode_cache(),
        )
        self.environment.policies["ext.i18n.trimmed"] = True
        self.environment.install_gettext_translations(  # type: ignore[attr-defined]
            load_translations(locale, catalogs), newstyle=True
        )
        self._lock = threading.Lock()  # Jinja compiles lazily; compile each template once

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render ``<template>.j2`` with the job's values; whitespace is folded to single spaces."""
        try:
            with self._lock:
                compiled = self.environment.get_template(f"{template}.j2")
            text = compiled.render(**context)
        except TemplateNotFound:
            raise TemplateError(
                f"no instruction template {template!r} in {self.templates}; "
                f"known: {', '.join(template_names(self.templates))}"
            ) from None
        except JinjaTemplateError as error:
            raise TemplateError(
                f"template {template!r} failed for locale {self.locale}: {error}"
            ) from None
        return _fold_whitespace(text)

    def vocabulary(self, macro: str, *args: Any) -> str:
        """Call a wording macro of ``_vocabulary.j2`` (colour names, offer lines …)."""
        try:
            with self._lock:
                module = self.environment.get_template(VOCABULARY_TEMPLATE).module
            return _fold_whitespace(str(getattr(module, macro)(*args)))
        except (JinjaTemplateError, AttributeError) as error:
            raise TemplateError(
                f"{VOCABULARY_TEMPLATE}: macro {macro!r} failed for locale {self.locale}: {error}"
            ) from None


def _fold_whitespace(text: str) -> str:
    # Templates put one clause per line; Chinese and Japanese join sentences without spaces.
    folded = " ".join(text.split())
    return _SPACE_AFTER_FULL_STOP.sub("", folded)


_SPACE_AFTER_FULL_STOP = re.compile(r"(?<=[。！？；]) (?=\S)")


@lru_cache(maxsize=64)
def renderer_for(locale: str) -> InstructionRenderer:
    """A shared renderer per locale over the shipped templates and catalogs."""
    return InstructionRenderer(locale)
