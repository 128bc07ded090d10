"""A query-time encoder that needs only onnxruntime, tokenizers and numpy.

``export_onnx`` runs at index-build time (torch is loaded then anyway): it writes the model's
transformer, with mean pooling and L2 normalisation inside the graph, as ``model.onnx`` beside the
``tokenizer.json`` it reads and a small ``onnx_encoder.json``. ``OnnxQueryEncoder`` loads those three
files and gives the same vectors as sentence-transformers (cosine >= 0.9999, tests/test_onnx_encoder.py),
so ``casebot ask`` never imports torch, transformers or sentence-transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from embeddings.errors import ModelUnavailable

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "onnx_encoder.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model_path: Path, out_dir: Path) -> Path:
    """Write model.onnx, tokenizer.json and onnx_encoder.json into ``out_dir``; return the model file.

    Uses torch's TorchScript exporter (``dynamo=False``): it works offline with torch 2.13 and needs no
    onnxscript. The model must be Transformer -> mean Pooling [-> Normalize], as all-MiniLM-L6-v2 is.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    model_path, out_dir = Path(model_path), Path(out_dir)
    _check_pooling(model_path)
    st = SentenceTransformer(str(model_path), device="cpu")
    transformer = st[0]
    max_len = int(st.max_seq_length)
    tokenizer = transformer.tokenizer
    tok_file = model_path / TOKENIZER_FILE
    if not tok_file.exists():
        raise ModelUnavailable(f"{model_path} has no {TOKENIZER_FILE}; the ONNX encoder needs a fast tokenizer")

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    module = Pooled(transformer.auto_model).eval()
    sample = torch.ones(2, 8, dtype=torch.long)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (MODEL_FILE + ".tmp")
    dynamic = {name: {0: "batch", 1: "seq"} for name in INPUTS}
    dynamic["sentence_embedding"] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about shape checks inside transformers that are constant for BERT.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(tmp),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
        )
    shutil.copyfile(tok_file, out_dir / TOKENIZER_FILE)
    meta = {
        "source": str(model_path),
        "max_seq_length": max_len,
        "dimension": int(transformer.auto_model.config.hidden_size),
        "pad_token": tokenizer.pad_token or "[PAD]",
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "opset": OPSET,
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out_dir / MODEL_FILE)  # last, so a present model.onnx means a complete export
    return out_dir / MODEL_FILE


def _check_pooling(model_path: Path) -> None:
    """Refuse models whose pipeline the graph above would not reproduce (CLS pooling, Dense layers)."""
    modules = model_path / "modules.json"
    if not modules.exists():
        return
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
    if any(k not in {"Transformer", "Pooling", "Normalize"} for k in kinds):
        raise ModelUnavailable(f"{model_path}: cannot export modules {kinds} to ONNX (only Transformer, Pooling)")
    pooling = model_path / "1_Pooling" / "config.json"
    if pooling.exists():
        cfg = json.loads(pooling.read_text())
        modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
        if modes != ["pooling_mode_mean_tokens"]:
            raise ModelUnavailable(f"{model_path}: ONNX export supports mean pooling only, not {modes}")


def cpu_session(path: Path, threads: int):
    """An onnxruntime session on the CPU with ``threads`` intra-op threads; ModelUnavailable for a bad file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types for a bad file
        raise ModelUnavailable(f"cannot load {path}: {str(exc)[:200]}") from exc


def onnx_export_present(out_dir: Path) -> bool:
    out_dir = Path(out_dir)
    return all((out_dir / f).exists() for f in (MODEL_FILE, TOKENIZER_FILE, META_FILE))


class OnnxQueryEncoder:
    """Encodes with an exported model.onnx; same interface as ``Encoder.encode`` / ``encode_query``."""

    def __init__(self, out_dir: Path, batch_size: int = 32, threads: int = 2):
        from tokenizers import Tokenizer

        out_dir = Path(out_dir)
        if not onnx_export_present(out_dir):
            raise ModelUnavailable(f"{out_dir} holds no complete ONNX export ({MODEL_FILE}, {META_FILE})")
        meta = json.loads((out_dir / META_FILE).read_text())
        self.path = out_dir
        self.name = str(meta.get("source", out_dir))
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        self.batch_size = batch_size
        self.calls = 0
        self.encoded = 0
        tok = Tokenizer.from_file(str(out_dir / TOKENIZER_FILE))
        # sentence-transformers truncates to max_seq_length word pieces, special tokens included.
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=meta["pad_token"])
        self._tokenizer = tok
        self._session = cpu_session(out_dir / MODEL_FILE, threads)
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 vectors, one row per text; batches sorted by length to pad little."""
        self.calls += 1
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def _run(self, batch: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        (vectors,) = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        return vectors
