"""Transcreation: copy for a market that has none of its own, from one source column.

``chat`` speaks to the translation backend (any OpenAI-compatible chat endpoint; Alibaba's Qwen-MT
models with their documented ``translation_options``); ``memory`` keeps every answer so no text
is paid for twice; ``fill`` decides which cells a run translates and checks what comes back (the
glossary's terms kept, the target's script, not empty); ``sheet`` writes the translations for a
reviewer (CSV and XLIFF 2.1) and reads them back as approved copy.
"""
