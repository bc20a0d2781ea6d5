"""The translation memory: every answer kept in the output root, under a key made of everything
that decides it (the text, both languages, the glossary terms and examples sent, the budget, the
backend's identity and this module's prompt version). A re-run, and any other campaign in the same
root, finds the same text translated and pays nothing for it."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from transcreate.errors import StorageError
from transcreate.storage import MISSING, Storage
from transcreate.translation.chat import Ask

#: Raised when what is sent for the same ask changes (the style note, the instruction's words).
PROMPT_VERSION = 1
PREFIX = "_translations"


class TranslationMemory:
    def __init__(self, storage: Storage, identity: str):
        self.storage, self.identity = storage, identity

    def key(self, ask: Ask) -> str:
        determinants = {"backend": self.identity, "prompt": PROMPT_VERSION, **ask.identity()}
        canonical = json.dumps(determinants, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return f"{PREFIX}/{digest[:2]}/{digest}.json"

    def get(self, ask: Ask) -> str | None:
        key = self.key(ask)
        if self.storage.verify(key) == MISSING:
            return None
        try:
            record: dict[str, Any] = json.loads(self.storage.get(key))
        except (StorageError, ValueError):
            return None  # unreadable: translated again, and stored over it
        text = record.get("translation")
        return text if isinstance(text, str) and text else None

    def put(self, ask: Ask, translation: str) -> None:
        record = {
            **ask.identity(),
            "backend": self.identity,
            "translation": translation,
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
        self.storage.put(self.key(ask), data, "application/json")
