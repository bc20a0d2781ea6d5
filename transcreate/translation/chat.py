"""The translation backend: one piece of copy per call to an OpenAI-compatible chat endpoint.

Qwen-MT (qwen-mt-plus / -turbo / -flash / -lite, on DashScope's compatible mode) takes exactly one
user message, the text, and everything else in ``translation_options`` (Model Studio, "Qwen-MT API
reference"): ``source_lang`` and ``target_lang`` by English name, ``terms`` (the glossary, as
``{"source", "target"}`` pairs), ``tm_list`` (example pairs: the campaign's approved
translations) and ``domains`` (a style note in English). It refuses a system message. Any other
chat model gets the same content as a plain instruction in a system message.

Errors are split as the image backends split them (`transcreate.editors.wire`): connection
errors, timeouts, 429 and 5xx are retried by the caller; the rest are permanent. The key is sent
as a bearer token and never appears in an error.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from transcreate.editors.redaction import scrubbed
from transcreate.editors.wire import Wire, check_response, transport_errors
from transcreate.errors import PermanentEditError
from transcreate.locales import base_language, language_name
from transcreate.settings import ModelSettings

PROVIDER = "translation"
STYLE = (
    "Advertising copy for a retail campaign: short, persuasive and natural for the market, "
    "as a local copywriter would write it; brand and product names kept as given."
)
#: Qwen-MT names a few languages otherwise than CLDR's English names.
_QWEN_MT_NAMES = {"zh-Hant": "Traditional Chinese", "fil": "Tagalog", "tl": "Tagalog"}
_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


@dataclass(frozen=True)
class Ask:
    """One piece of copy to translate, with everything that decides its translation."""

    text: str
    source: str  # locale tags
    target: str
    #: glossary terms found in ``text``: (the term as written in the source, its target form)
    terms: tuple[tuple[str, str], ...] = ()
    #: the campaign's approved translations into ``target``: (source, translation)
    examples: tuple[tuple[str, str], ...] = ()
    #: a character budget the layout asks for (a shorter version), or None
    budget: int | None = None

    def identity(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "target": self.target,
            "terms": [list(pair) for pair in self.terms],
            "examples": [list(pair) for pair in self.examples],
            "budget": self.budget,
        }


def is_qwen_mt(model: str) -> bool:
    return model.lower().startswith("qwen-mt")


def qwen_mt_language(tag: str) -> str:
    """The English name Qwen-MT takes for a locale ("Thai", "Traditional Chinese")."""
    if tag.lower().startswith(_TRADITIONAL):
        return "Traditional Chinese"
    language = base_language(tag)
    return _QWEN_MT_NAMES.get(tag) or _QWEN_MT_NAMES.get(language) or language_name(language)


class ChatTranslator:
    """Translations from an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(self, settings: ModelSettings, wire: Wire | None = None):
        wire = wire or Wire.to(settings)
        self.settings = settings
        self.client, self.redact = wire.client, wire.redact
        self.fields = dict(settings.options)  # sent as they are (temperature …): the identity
        canonical = json.dumps(self.fields, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
        host = urllib.parse.urlsplit(settings.base_url).netloc
        # What decides an answer, for the translation memory: the model, where it is served
        # (two services may serve one name differently) and every field sent.
        self.identity = f"chat/{settings.model}@{host}" + (f"#{digest}" if self.fields else "")
        self.calls = 0

    def translate(self, ask: Ask) -> str:
        """The translation of ``ask.text``, as the model wrote it (stripped)."""
        with scrubbed(self.redact):
            body = self.body(ask)
            self.calls += 1
            with transport_errors(PROVIDER, self.redact):
                response = self.client.post("chat/completions", json=body)
            check_response(response, PROVIDER, _error_message, self.redact)
            return _content(response)

    def body(self, ask: Ask) -> dict[str, Any]:
        model = self.settings.model
        if is_qwen_mt(model):
            options: dict[str, Any] = {
                "source_lang": qwen_mt_language(ask.source),
                "target_lang": qwen_mt_language(ask.target),
                "domains": STYLE + _budget_note(ask.budget),
            }
            if ask.terms:
                options["terms"] = _pairs(ask.terms)
            if ask.examples:
                options["tm_list"] = _pairs(ask.examples)
            messages = [{"role": "user", "content": ask.text}]
            return {**self.fields, "model": model, "messages": messages,
                    "translation_options": options}  # fmt: skip
        messages = [
            {"role": "system", "content": instruction(ask)},
            {"role": "user", "content": ask.text},
        ]
        return {**self.fields, "model": model, "messages": messages}


def instruction(ask: Ask) -> str:
    """What a general chat model is told: Qwen-MT's options, in words."""
    source, target = language_name(ask.source), language_name(ask.target)
    lines = [
        f"Translate the user's text from {source} into {target}. {STYLE}{_budget_note(ask.budget)}",
        "Answer with the translation only: no quotes, no notes, no other language.",
    ]
    if ask.terms:
        kept = "; ".join(f"{term!r} as {form!r}" for term, form in ask.terms)
        lines.append(f"Write these terms exactly so: {kept}.")
    if ask.examples:
        shown = "\n".join(f"{source}: {text}\n{target}: {done}" for text, done in ask.examples)
        lines.append(
            f"Approved translations of this campaign, to follow in wording and tone:\n{shown}"
        )
    return "\n".join(lines)


def _budget_note(budget: int | None) -> str:
    return f" At most {budget} characters: the layout has room for no more." if budget else ""


def _pairs(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"source": source, "target": target} for source, target in pairs]


def _content(response: httpx.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise PermanentEditError(
            f"{PROVIDER}: an answer without choices[0].message.content: {response.text[:200]!r}"
        ) from None
    if isinstance(content, list):  # content parts, as some servers answer
        content = "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    if not isinstance(content, str):
        raise PermanentEditError(f"{PROVIDER}: the answer's content is not text")
    return content.strip()


def _error_message(response: httpx.Response) -> str:
    document = response.json()
    error = document.get("error") or document  # DashScope's compatible mode answers both ways
    code = error.get("code") or error.get("type") or "error"
    return f"{code}: {error.get('message', '')}"
