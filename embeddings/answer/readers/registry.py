"""Reader backends by name ([reader] backend): "llama", "openai", or "none" for no reader.

A backend is a class taking its own settings section ([reader.<name>]) and the timeout; adding one
is one file beside this one and one entry here. Each is imported only when chosen."""

from __future__ import annotations

import importlib
import logging

from embeddings.answer.readers.guard import GuardedReader
from embeddings.config import ReaderSettings, choose
from embeddings.errors import ReaderUnavailable

log = logging.getLogger("casebot.reader")

BACKENDS = {
    "llama": "embeddings.answer.readers.llama:LlamaReader",
    "openai": "embeddings.answer.readers.openai:OpenAIReader",
}


def make_reader(settings: ReaderSettings) -> GuardedReader | None:
    """The configured reader, or None (extractive only) when it is "none" or cannot be set up;
    the reason is logged once, and answers say which reader ran."""
    if settings.backend == "none":
        return None
    module, cls = choose(BACKENDS, settings.backend, "[reader] backend").split(":")
    try:
        backend = getattr(importlib.import_module(module), cls)(getattr(settings, settings.backend), settings.timeout_s)
    except ReaderUnavailable as exc:
        log.warning("reader off, answering extractively: %s", exc)
        return None
    return GuardedReader(backend, settings.timeout_s)
