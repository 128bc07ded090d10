"""casebot's answer judge: a cross-encoder that reads a question and one candidate sentence together
and gives a logit that the sentence states the answer (not only that it is on topic).

It was fine-tuned from all-MiniLM-L6-v2 with sentence-transformers' ``CrossEncoder`` on the fictional
corpus in ``training/judge/`` (never on the seeds or ``tests/data``; ``training/judge/README.md`` says
how). The repo ships its weights (``[judge] weights``, SHA-256 checked); ``open_judge`` exports them
to ONNX once (``[judge] onnx``), so the query path needs only onnxruntime, tokenizers
and numpy: no torch.

The judge reads each candidate as ``Document.headed`` writes it (the reader is shown the same);
training (training/judge/make_pairs.py) and query time both call it, so the model is always shown
the heading it was trained on. It reads a sentence of its pool only when a policy asks for that
sentence's logit (``JudgePool.read``): the default policy quotes by the extractive order and asks for
the first ``[judge] read`` sentences and the one it would quote, not the whole pool.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from embeddings.answer.candidates import Scored, score_sentences
from embeddings.answer.question import Question
from embeddings.config import Config, JudgeSettings
from embeddings.errors import ModelUnavailable
from embeddings.models.onnx_encoder import cpu_session
from embeddings.passages import PassageReading
from embeddings.retrieval.fusion import Hit
from embeddings.text import file_sha256

WEIGHTS_FILE = "model.safetensors"
MODEL_FILE = "judge.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "judge.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_judge(model_dir: Path, out_dir: Path, quantize: bool = False) -> Path:
    """Export a trained CrossEncoder folder to ``out_dir``/judge.onnx, beside its tokenizer.json and
    judge.json; return the model file. fp32 by default: int8 weights (``quantize``) ran 1.6x faster
    but moved probabilities by up to 0.2 and changed the top candidate for 10 of 60 questions."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    # The weights ship as fp16; export (and quantize) from fp32.
    ce = CrossEncoder(str(model_dir), device="cpu", model_kwargs={"dtype": torch.float32})
    module = ce.model.eval()

    class Logit(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits[:, 0]

    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / (MODEL_FILE + ".fp32")
    sample = torch.ones(2, 8, dtype=torch.long)
    dynamic = {name: {0: "batch", 1: "seq"} for name in INPUTS}
    dynamic["logit"] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logit(module), (sample, torch.ones_like(sample), torch.zeros_like(sample)), str(raw),
                          dynamo=False, input_names=list(INPUTS), output_names=["logit"],
                          dynamic_axes=dynamic, opset_version=OPSET)
    tmp = out_dir / (MODEL_FILE + ".tmp")
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(raw), str(tmp), weight_type=QuantType.QInt8)
        raw.unlink()
    else:
        os.replace(raw, tmp)
    tok = ce.tokenizer
    shutil.copyfile(model_dir / TOKENIZER_FILE, out_dir / TOKENIZER_FILE)
    meta = {"max_length": int(ce.max_length), "pad_token": tok.pad_token or "[PAD]",
            "pad_token_id": int(tok.pad_token_id or 0), "quantized": quantize, "opset": OPSET,
            "weights_sha256": file_sha256(model_dir / WEIGHTS_FILE)}
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out_dir / MODEL_FILE)
    return out_dir / MODEL_FILE


class Judge:
    """Scores (question, candidate) pairs with the exported model: P(the candidate states the answer)."""

    def __init__(self, folder: Path, threads: int, batch_size: int):
        from tokenizers import Tokenizer

        folder = Path(folder)
        if not all((folder / f).exists() for f in (MODEL_FILE, TOKENIZER_FILE, META_FILE)):
            raise ModelUnavailable(f"{folder} holds no judge model ({MODEL_FILE}, {TOKENIZER_FILE}, {META_FILE})")
        meta = json.loads((folder / META_FILE).read_text())
        self.folder = folder
        self.batch_size = batch_size
        tok = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tok.enable_truncation(max_length=int(meta["max_length"]), strategy="only_second")
        tok.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=meta["pad_token"])
        self._tokenizer = tok
        self._session = cpu_session(folder / MODEL_FILE, threads)

    def logits(self, question: str, candidates: list[str]) -> np.ndarray:
        out = np.zeros(len(candidates), dtype=np.float32)
        order = sorted(range(len(candidates)), key=lambda i: len(candidates[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            enc = self._tokenizer.encode_batch([(question, candidates[i]) for i in rows])
            feeds = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                     "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
            (logit,) = self._session.run(None, feeds)
            out[rows] = logit
        return out

    def scores(self, question: str, candidates: list[str]) -> np.ndarray:
        """P(states the answer) for each candidate, in the order given."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-self.logits(question, candidates)))


_OPEN: dict[tuple, Judge] = {}
_OPEN_LOCK = threading.Lock()


def open_judge(settings: JudgeSettings, log) -> Judge:
    """The judge's ONNX session, one a process for the same settings; the export is made (once,
    ~10 s, torch) when it is missing or was made from other weights. Weights whose SHA-256 is not
    ``[judge] sha256`` are refused."""
    key = (str(settings.onnx), settings.sha256, settings.threads, settings.batch_size)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = _open(settings, log)
        return _OPEN[key]


def _open(settings: JudgeSettings, log) -> Judge:
    folder = Path(settings.onnx)
    meta = folder / META_FILE
    made_from = json.loads(meta.read_text()).get("weights_sha256") if meta.exists() else None
    if made_from != settings.sha256 or not (folder / MODEL_FILE).exists():
        weights = Path(settings.weights) / WEIGHTS_FILE
        if not weights.exists():
            raise ModelUnavailable(f"the judge's weights are missing: {weights}")
        found = file_sha256(weights)
        if found != settings.sha256:
            raise ModelUnavailable(f"{weights} fails its checksum (sha256 {found[:12]}…, "
                                   f"[judge] sha256 is {settings.sha256[:12]}…); refusing to use it")
        log(f"exporting the answer judge to ONNX in {folder} (once)")
        export_judge(Path(settings.weights), folder)
    return Judge(folder, threads=settings.threads, batch_size=settings.batch_size)


def judge_candidates(data: PassageReading, hits: list[Hit], q: Question, config: Config) -> list[Scored]:
    """What the judge reads: the best ``[judge] candidates`` sentences (by extractive score) of the
    top ``[judge] passages`` passages (training/judge/make_pairs.py trains on the same)."""
    deeper = replace(config.answer, sentence_pool=config.judge.passages)
    return score_sentences(data, hits, q, deeper)[: config.judge.candidates]


@dataclass
class JudgePool:
    """The judge's pool, in extractive order, for one question; each sentence is read by the judge
    the first time a policy asks for its logit, and only once."""

    sentences: tuple[Scored, ...]
    texts: tuple[str, ...]          # each sentence headed by its outlet and date, as the judge reads it
    question: str
    judge: Judge
    _logits: dict[int, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sentences)

    def read(self, indices: Iterable[int]) -> tuple[Scored, ...]:
        """The pool with the judge's logit on the sentences at ``indices`` (read now unless read
        before) and none on the others, whatever was read before: what a policy sees does not depend
        on what another asked."""
        wanted = {i for i in indices if 0 <= i < len(self.sentences)}
        todo = sorted(i for i in wanted if i not in self._logits)
        if todo:
            logits = self.judge.logits(self.question, [self.texts[i] for i in todo])
            self._logits.update((i, float(z)) for i, z in zip(todo, logits))
        return tuple(replace(c, judge=self._logits[i]) if i in wanted else c for i, c in enumerate(self.sentences))

    def read_all(self) -> tuple[Scored, ...]:
        return self.read(range(len(self.sentences)))


def judge_pool(judge: Judge, data: PassageReading, hits: list[Hit], q: Question, config: Config) -> JudgePool:
    """The judge stage: its candidates in extractive order, to be read on demand."""
    pool = judge_candidates(data, hits, q, config)
    texts = tuple(data.documents[data.sentences[c.sid].doc_key].headed(data.sentences[c.sid].text) for c in pool)
    return JudgePool(tuple(pool), texts, q.text, judge)
