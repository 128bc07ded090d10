"""Configuration: config/default.toml, an optional user file, then CASEBOT_* environment overrides."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
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
class QuestionSettings:
    max_chars: int


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
    runner_up_evidence_gap: float
    near_duplicate_share: float
    type_search_depth: int
    type_margin: float
    title_margin: float
    conflict_min_cosine: float
    unknown_share_decline: float
    unknown_min_words: int
    full_match_bonus: float
    min_quote_words: int


@dataclass(frozen=True)
class LlamaSettings:
    model: Path
    sha256: str
    threads: int
    context: int
    n_batch: int


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str
    api_model: str
    api_key_env: str
    top_logprobs: int


@dataclass(frozen=True)
class ReaderSettings:
    backend: str
    timeout_s: float
    candidates: int
    confidence_bound: float
    llama: LlamaSettings
    openai: OpenAISettings


@dataclass(frozen=True)
class JudgeSettings:
    weights: Path               # the trained CrossEncoder folder shipped in the repo
    sha256: str                 # of its model.safetensors: checked before the ONNX export is made
    onnx: Path                  # where the ONNX export is kept
    passages: int
    candidates: int
    read: int                   # with pick = "extractive", the judge reads the first `read` candidates and the pick
    threads: int
    batch_size: int
    logit_bound: float


@dataclass(frozen=True)
class JudgePolicySettings:
    pick: str                   # "judge" or "extractive": who chooses the sentences to quote
    checks: tuple[str, ...]
    unknown_gate: bool          # decline on words in no document ([answer] unknown_*) before the judge reads
    features: tuple[str, ...]
    choice_weight: float
    also_quote: float
    runner_up_logit: float      # with pick = "extractive", a sentence quoted beside the pick needs a judge logit at least this
    bias: float
    weights: tuple
    answer_above: float
    closest_above: float


@dataclass(frozen=True)
class SourceSettings:
    depth: int                  # candidates a question about a document is answered from
    min_match: float            # the share of its own words the document must hold
    max_unknown: int            # the most words no document holds a question may have
    first: bool                 # before the policy's own answer (true) or only where it declined


@dataclass(frozen=True)
class DecisionSettings:
    scorer: str
    with_judge: str
    with_reader: str
    without_reader: str
    reader_checks: tuple[str, ...]      # checks the reader policy runs on each sentence it would quote
    extractive_checks: tuple[str, ...]  # checks the extractive policy runs on the sentences it would quote
    judge: JudgePolicySettings
    source: SourceSettings
    features: tuple[str, ...]     # the combiner's inputs, by name (embeddings/answer/combiner.py)
    choice_weight: float
    also_quote: float
    bias: float
    weights: tuple
    answer_above: float


@dataclass(frozen=True)
class IndexSettings:
    exact_max: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    ann: str
    ivf_nlist: int
    ivf_nprobe: int
    ivf_train_per_list: int


@dataclass(frozen=True)
class DiscordSettings:
    guild_id: int
    cooldown_seconds: float
    cooldown_rate: int


@dataclass(frozen=True)
class BackendSettings:
    kind: str
    uri: str
    collection: str
    index_type: str
    timeout_seconds: float
    upsert_batch: int
    term_cache: int


@dataclass(frozen=True)
class DaskSettings:
    scheduler: str
    batch_texts: int
    timeout_seconds: float


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
    question: QuestionSettings
    answer: AnswerSettings
    index: IndexSettings
    reader: ReaderSettings
    judge: JudgeSettings
    decision: DecisionSettings
    discord: DiscordSettings
    backend: BackendSettings
    dask: DaskSettings
    conversation: ConversationSettings


_SECTIONS = {
    "paths": Paths,
    "model": Model,
    "chunking": Chunking,
    "retrieval": Retrieval,
    "question": QuestionSettings,
    "answer": AnswerSettings,
    "index": IndexSettings,
    "reader.llama": LlamaSettings,
    "reader.openai": OpenAISettings,
    "reader": ReaderSettings,
    "judge": JudgeSettings,
    "decision.judge": JudgePolicySettings,
    "decision.source": SourceSettings,
    "decision": DecisionSettings,
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


_PATH_KEYS = {("reader.llama", "model"), ("judge", "weights"), ("judge", "onnx")}
_NESTED = {cls.__name__: section for section, cls in _SECTIONS.items()}
_KINDS = {"Path": Path, "int": int, "float": float, "str": str, "bool": bool, "tuple": tuple,
          "tuple[str, ...]": "names"}


def _flatten(tables: dict) -> dict:
    """[reader.llama] is read as its own section "reader.llama" beside [reader]."""
    out = {}
    for section, values in tables.items():
        if isinstance(values, dict):
            for key in [k for k, v in values.items() if isinstance(v, dict)]:
                out[f"{section}.{key}"] = values.pop(key)
        out[section] = values
    return out


def _coerce(section: str, key: str, value, kind):
    try:
        if kind is Path:
            return Path(value)
        if kind == "names":
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(v).strip() for v in items if str(v).strip())
        if kind is tuple:
            items = value.split(",") if isinstance(value, str) else value
            return tuple(float(v) for v in items)
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
        return kind(value)
    except (TypeError, ValueError):
        name = kind if isinstance(kind, str) else kind.__name__
        raise ConfigError(f"config [{section}] {key} = {value!r} is not a valid {name}") from None


def _type_name(f) -> str:
    return f.type if isinstance(f.type, str) else f.type.__name__


def load_config(path: Path | None = None, env: dict | None = None, **overrides) -> Config:
    """Read the defaults, merge the user's file over them, then CASEBOT_SECTION_KEY variables.

    A subsection's variables join its names with "_": CASEBOT_READER_LLAMA_MODEL for [reader.llama]
    model. ``overrides`` take "section.key" style keyword names written as section__key (used by the
    CLI; reader_llama__model for a subsection). Relative paths from files resolve against the project
    root; from env or overrides, the cwd.
    """
    env = os.environ if env is None else env
    data = _flatten(_read_toml(DEFAULT_CONFIG))
    if path is not None:
        for section, values in _flatten(_read_toml(Path(path))).items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"unknown config section [{section}] in {path}")
            data.setdefault(section, {}).update(values)
    for section in data:
        if section in _SECTIONS:
            for key, value in list(data[section].items()):
                if (section == "paths" or (section, key) in _PATH_KEYS) and not Path(value).is_absolute():
                    data[section][key] = str(PROJECT_ROOT / value)
                if (section, key) == ("backend", "uri") and value and "://" not in value \
                        and not Path(value).is_absolute():  # a Milvus Lite file, like [paths]
                    data[section][key] = str(PROJECT_ROOT / value)
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            name = f"CASEBOT_{section.replace('.', '_')}_{f.name}".upper()
            if name in env and _type_name(f) not in _NESTED:
                data.setdefault(section, {})[f.name] = env[name]
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, key = dotted.split("__", 1)
        section = section if section in _SECTIONS else section.replace("_", ".")
        data.setdefault(section, {})[key] = value

    built = {}
    for section, cls in _SECTIONS.items():
        values = data.get(section, {})
        kwargs = {}
        for f in dataclasses.fields(cls):
            if _type_name(f) in _NESTED:
                kwargs[f.name] = built[_NESTED[_type_name(f)]]
                continue
            if f.name not in values:
                raise ConfigError(f"config [{section}] is missing {f.name}")
            kwargs[f.name] = _coerce(section, f.name, values[f.name], _KINDS[_type_name(f)])
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config key(s) in [{section}]: {', '.join(sorted(unknown))}")
        built[section] = cls(**kwargs)
    p = built["paths"]
    built["paths"] = Paths(*(Path(os.path.abspath(x)) for x in (p.seeds, p.index, p.feedback, p.database)))
    return Config(**{section: value for section, value in built.items() if "." not in section})


def choose(registry: dict, name: str, key: str):
    """The entry a setting names in a registry of named steps, or a ConfigError saying what exists."""
    try:
        return registry[name]
    except KeyError:
        raise ConfigError(f"unknown {key} {name!r}: use one of {', '.join(sorted(registry))}") from None
