"""A fake OpenAI-compatible chat server, as DashScope's compatible mode serves Qwen-MT.

``POST /compatible-mode/v1/chat/completions`` checks what the service checks (Model Studio,
"Qwen-MT API reference" and "Machine translation (Qwen-MT)"): a bearer key; for ``qwen-mt-*``
models exactly one message, with role user (no system message, no multi-turn), and
``translation_options`` with ``source_lang`` and ``target_lang`` (English names or codes),
``terms`` and ``tm_list`` as lists of ``{"source", "target"}`` and ``domains`` as a string.
Other models take ordinary chat messages; the target language is read from the system message.
Errors come back in OpenAI's shape (``{"error": {"code", "message", "type"}}``).

The "translation" is deterministic and in the target's script, so tests can tell it from the
source: a phrasebook for the test sheet's copy, else each word re-spelled in the target script.
Terms are kept as the glossary says (term intervention), unless a test scripts otherwise.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time

from tests.servers.base import TIMEOUT, FakeServer, Fault, Reply, Request

PATH = "/compatible-mode/v1/chat/completions"
QWEN_MT = ("qwen-mt-plus", "qwen-mt-turbo", "qwen-mt-flash", "qwen-mt-lite")
PHRASEBOOK = {
    ("Big Sale", "Indonesian"): "Diskon Besar",
    ("Big Sale", "Thai"): "ลดครั้งใหญ่",
    ("Big Sale", "Chinese"): "大促销",
    ("Big Sale", "Vietnamese"): "Giảm giá lớn",
    ("Shop now", "Indonesian"): "Belanja sekarang",
    ("Shop now", "Thai"): "ซื้อเลย",
    ("Shop now", "Chinese"): "立即购买",
    ("Shop now", "Vietnamese"): "Mua ngay",
}
#: where each target language's letters are, for re-spelling unknown words
_SCRIPTS = {"Thai": (0x0E01, 40), "Chinese": (0x4E00, 2000), "Traditional Chinese": (0x4E00, 2000)}
_NAMES = {"id": "Indonesian", "th": "Thai", "zh": "Chinese", "vi": "Vietnamese", "en": "English"}


def error(status: int, code: str, message: str) -> Reply:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return Reply.json({"error": {"code": code, "message": message, "type": kind}}, status)


def respelled(text: str, target: str) -> str:
    """A word-for-word stand-in for a translation, in the target language's script."""
    start, span = _SCRIPTS.get(target, (0, 0))
    words = []
    for word in text.split():
        digest = hashlib.sha256(f"{target}:{word}".encode()).digest()
        if span:
            words.append("".join(chr(start + b % span) for b in digest[: max(2, len(word) // 2)]))
        else:  # a Latin-script language: the word turned around, so it differs from the source
            words.append(word[::-1].capitalize())
    return ("" if span and target != "Thai" else " ").join(words)


class FakeChat(FakeServer):
    env_prefix, api_path = "TRANSCREATE_TRANSLATION", "/compatible-mode/v1"

    def __init__(self, api_key: str = "sk-translate-not-a-real-key", latency: float = 0.0):
        super().__init__(latency)
        self.api_key = api_key
        self.answers: list[str] = []  # scripted answers, used first, one per call
        self.drop_terms = False  # answer without the glossary's terms
        self.translated = 0  # answers given (what the service bills)
        self._ids = itertools.count(1)

    @property
    def paid(self) -> int:
        return self.translated

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "TRANSCREATE_TRANSLATION_MODEL": "qwen-mt-flash"}

    def fault_for(self, kind: str) -> Fault:
        if kind == "throttled":
            reply = error(429, "Throttling.RateQuota", "Requests rate limit exceeded")
            reply.headers["Retry-After"] = "1"
            return Fault(reply, path=PATH)
        if kind == "server_error":
            return Fault(error(500, "InternalError", "internal error"), path=PATH)
        if kind == "timeout":
            return Fault(
                Reply(200, b"{}", {"Content-Type": "application/json"}, delay=TIMEOUT), PATH
            )
        raise ValueError(f"the chat fake has no {kind!r} fault")

    def route(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != PATH:
            return error(404, "NotFound", f"no route for {request.method} {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "invalid_api_key", "Incorrect API key provided.")
        try:
            body = request.json()
        except ValueError:
            return error(400, "invalid_parameter_error", "the body is not JSON")
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            return error(400, "invalid_parameter_error", "model and messages are required")
        if model.startswith("qwen-mt"):
            found = self._qwen_mt(model, messages, body.get("translation_options"))
        else:
            found = self._general(messages)
        if isinstance(found, Reply):
            return found
        text, target, terms = found
        answer = self.answers.pop(0) if self.answers else self._translate(text, target, terms)
        self.translated += 1
        return Reply.json(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(text), "completion_tokens": len(answer)},
            }
        )

    def _qwen_mt(
        self, model: str, messages: list[object], options: object
    ) -> tuple[str, str, list[tuple[str, str]]] | Reply:
        if model not in QWEN_MT:
            return error(404, "model_not_found", f"The model `{model}` does not exist")
        if len(messages) != 1 or not isinstance(messages[0], dict):
            return error(400, "invalid_parameter_error", "Qwen-MT takes one user message")
        message = messages[0]
        if message.get("role") != "user":
            return error(
                400, "invalid_parameter_error", "Qwen-MT does not support a system message"
            )
        if not isinstance(options, dict):
            return error(400, "invalid_parameter_error", "translation_options is required")
        source, target = options.get("source_lang"), options.get("target_lang")
        if not isinstance(source, str) or not isinstance(target, str):
            return error(400, "invalid_parameter_error", "source_lang and target_lang are required")
        terms = []
        for name in ("terms", "tm_list"):
            pairs = options.get(name, [])
            if not isinstance(pairs, list) or not all(
                isinstance(pair, dict) and set(pair) == {"source", "target"} for pair in pairs
            ):
                return error(400, "invalid_parameter_error", f"{name} is a list of source/target")
            if name == "terms":
                terms = [(pair["source"], pair["target"]) for pair in pairs]
        if not isinstance(options.get("domains", ""), str):
            return error(400, "invalid_parameter_error", "domains is a string")
        return str(message.get("content", "")), _NAMES.get(target, target), terms

    def _general(self, messages: list[object]) -> tuple[str, str, list[tuple[str, str]]] | Reply:
        system = next(
            (m for m in messages if isinstance(m, dict) and m.get("role") == "system"), {}
        )
        user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        found = re.search(r"into ([A-Z][a-z]+)", str(system.get("content", "")))
        if not user or not found:
            return error(400, "invalid_parameter_error", "a system instruction and a user text")
        terms = re.findall(r"'([^']+)' as '([^']+)'", str(system.get("content", "")))
        return str(user[-1].get("content", "")), found.group(1), terms

    def _translate(self, text: str, target: str, terms: list[tuple[str, str]]) -> str:
        marks = {}
        for index, (term, form) in enumerate(terms):  # kept as the glossary says
            if term in text:
                marks[f"QQ{index}QQ"] = "" if self.drop_terms else form
                text = text.replace(term, f" QQ{index}QQ ")
        plain = " ".join(text.split())
        words = [
            marks[word] if word in marks else respelled(word, target) for word in plain.split()
        ]
        return PHRASEBOOK.get((plain, target)) or " ".join(" ".join(words).split())
