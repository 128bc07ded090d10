"""Named failures of the engine. The edges (CLI, Discord) turn them into user messages."""


class CasebotError(Exception):
    """Base class: every error a user can cause or meet."""


class ConfigError(CasebotError):
    """The configuration file or an override is invalid."""


class SeedsNotFound(CasebotError):
    """The seeds folder does not exist or holds no seed files."""


class SeedParseError(CasebotError):
    """One seed file could not be parsed; the build skips it and reports it by name."""

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{getattr(path, 'name', path)}: {reason}")


class IndexMissing(CasebotError):
    """No index has been built yet."""


class IndexCorrupt(CasebotError):
    """An index file is truncated, unreadable or inconsistent with its manifest."""


class IndexMismatch(CasebotError):
    """The index was built with another model or chunker than the configuration asks for."""


class IndexLocked(CasebotError):
    """Another build holds the index lock."""


class EmptyQuestion(CasebotError):
    """The question is empty or only whitespace."""


class ModelUnavailable(CasebotError):
    """The configured embedding model cannot be loaded offline."""


class ReaderUnavailable(CasebotError):
    """The reader model or endpoint cannot be used (not installed, missing, fails its checksum, down)."""


class BackendUnavailable(CasebotError):
    """The search backend (a Milvus server or Lite file, a Dask scheduler) cannot be reached or used."""


class StoreCorrupt(CasebotError):
    """The conversation and feedback database is not a readable SQLite file."""
