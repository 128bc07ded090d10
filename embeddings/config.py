"""Configuration: config/default.toml, an optional user file, then CASEBOT_* environment overrides."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.toml"


@dataclass(frozen=True)
class Paths:
    seeds: Path
    index: Path
    feedback: Path
    database: Path


@dataclass(frozen=True)
class Model:
    name: str
    batch_size: int
    device: str


@dataclass(frozen=True)
class Chunking:
    target_tokens: int
    overlap_sentences: int


@dataclass(frozen=True)
class Retrieval:
    top_k: int
    candidates: int
    dense_weight: float
    lexical_weight: float


@dataclass(frozen=True)
class AnswerSettings:
    max_sentences: int
    decline_below: float
    sentence_pool: int
    term_weight: float
    rank_weight: float
    sentence_share: float
    context_share: float
    type_bonus: float
    runner_up_margin: float
    type_search_depth: int
    type_margin: float
    title_margin: float
    conflict_min_cosine: float
    unknown_share_decline: float
    unknown_min_words: int
    full_match_bonus: float
    min_quote_words: int


@dataclass(frozen=True)
class ReaderSettings:
    backend: str
    model: Path
    sha256: str
    threads: int
    context: int
    timeout_s: float
    base_url: str
    api_model: str
    api_key_env: str
    candidates: int
    choice_weight: float
    bias: float
    weights: tuple
    answer_above: float
    also_quote: float


@dataclass(frozen=True)
class IndexSettings:
    exact_max: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    ann: str = "ivf"
    ivf_nlist: int = 0
    ivf_nprobe: int = 96
    ivf_train_per_list: int = 64


@dataclass(frozen=True)
class DiscordSettings:
    guild_id: int
    cooldown_seconds: float
    cooldown_rate: int


@dataclass(frozen=True)
class BackendSettings:
    kind: str = "faiss"
    uri: str = ""
    collection: str = "casebot"
    index_type: str = "FLAT"
    timeout_seconds: float = 10.0
    upsert_batch: int = 1000


@dataclass(frozen=True)
class DaskSettings:
    scheduler: str = ""
    batch_texts: int = 512
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ConversationSettings:
    history_turns: int
    followup_max_words: int
    answer_names: int
    retention_days: float
    busy_timeout_ms: int


@dataclass(frozen=True)
class Config:
    paths: Paths
    model: Model
    chunking: Chunking
    retrieval: Retrieval
    answer: AnswerSettings
    index: IndexSettings
    reader: ReaderSettings
    discord: DiscordSettings = field(default_factory=lambda: DiscordSettings(0, 10.0, 3))
    backend: BackendSettings = field(default_factory=BackendSettings)
    dask: DaskSettings = field(default_factory=DaskSettings)
    conversation: ConversationSettings = field(default_factory=lambda: ConversationSettings(3, 3, 1, 90.0, 10_000))


_SECTIONS = {
    "paths": Paths,
    "model": Model,
    "chunking": Chunking,
    "retrieval": Retrieval,
    "answer": AnswerSettings,
    "index": IndexSettings,
    "reader": ReaderSettings,
    "discord": DiscordSettings,
    "backend": BackendSettings,
    "dask": DaskSettings,
    "conversation": ConversationSettings,
}


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _coerce(section: str, key: str, value, kind):
    try:
        if kind is Path:
            return Path(value)
        if kind is tuple:
            items = value.split(",") if isinstance(value, str) else value
            return tuple(float(v) for v in items)
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config [{section}] {key} = {value!r} is not a valid {kind.__name__}") from None


def load_config(path: Path | None = None, env: dict | None = None, **overrides) -> Config:
    """Read the defaults, merge the user's file over them, then CASEBOT_SECTION_KEY variables.

    ``overrides`` take "section.key" style keyword names written as section__key (used by the CLI).
    Relative paths from files resolve against the project root; from env or overrides, the cwd.
    """
    env = os.environ if env is None else env
    data = _read_toml(DEFAULT_CONFIG)
    if path is not None:
        for section, values in _read_toml(Path(path)).items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"unknown config section [{section}] in {path}")
            data.setdefault(section, {}).update(values)
    for section in data:
        if section in _SECTIONS:
            for key, value in list(data[section].items()):
                if (section == "paths" or (section, key) == ("reader", "model")) and not Path(value).is_absolute():
                    data[section][key] = str(PROJECT_ROOT / value)
                if (section, key) == ("backend", "uri") and value and "://" not in value \
                        and not Path(value).is_absolute():  # a Milvus Lite file, like [paths]
                    data[section][key] = str(PROJECT_ROOT / value)
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            name = f"CASEBOT_{section}_{f.name}".upper()
            if name in env:
                data.setdefault(section, {})[f.name] = env[name]
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, key = dotted.split("__", 1)
        data.setdefault(section, {})[key] = value

    built = {}
    for section, cls in _SECTIONS.items():
        values = data.get(section, {})
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                raise ConfigError(f"config [{section}] is missing {f.name}")
            kind = {"Path": Path, "int": int, "float": float, "str": str, "bool": bool, "tuple": tuple}[
                f.type if isinstance(f.type, str) else f.type.__name__
            ]
            kwargs[f.name] = _coerce(section, f.name, values[f.name], kind)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config key(s) in [{section}]: {', '.join(sorted(unknown))}")
        built[section] = cls(**kwargs)
    if built["paths"] is not None:
        p = built["paths"]
        built["paths"] = Paths(*(Path(os.path.abspath(x)) for x in (p.seeds, p.index, p.feedback, p.database)))
    return Config(**built)
