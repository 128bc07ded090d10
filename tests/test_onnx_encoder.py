"""The ONNX query encoder gives sentence-transformers' vectors without importing torch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.models.encoder import resolve_model_path
from embeddings.models.onnx_encoder import MODEL_FILE, OnnxQueryEncoder, export_onnx

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
HEAVY = ("torch", "transformers", "sentence_transformers")

QUESTIONS = [
    "Who sued Clearview AI in California?",
    "Why did Chicago police stop using Clearview?",
    "What did Clearview agree to on May 9?",
    "Which law does Illinois use to protect biometric data?",
    "Can federal agencies still buy Clearview's database?",
    "How many photos are in the Clearview database?",
    "What is the Biometric Information Privacy Act?",
    "Who is the CEO of Clearview AI?",
    "What did the ACLU argue?",
    "Is facial recognition legal in Europe?",
    "When was the settlement announced?",
    "What happens to Illinois residents who opt out?",
    "clearview fine",
    "BIPA",
    "police",
    "Quelle amende la CNIL a-t-elle infligée ?",
    "was ist gesichtserkennung",
    "facial recognition 🙂 privacy?!",
    "   leading and trailing spaces   ",
    "Numbers: 2020, 20 million euros, 3 billion images, $33M",
]


def _seed_sentences() -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if len(p.strip()) > 3]


def _varied_texts() -> tuple[list[str], list[str]]:
    """(questions, passages): short sentences, multi-sentence passages, and passages past 256 tokens."""
    sentences = _seed_sentences()
    rng = np.random.default_rng(7)
    passages = list(sentences)
    words = " ".join(sentences).split()
    for n in (20, 60, 120, 180, 240, 300, 600):  # 240+ words is past max_seq_length: truncation
        for start in rng.integers(0, max(1, len(words) - n), 8):
            passages.append(" ".join(words[start : start + n]))
    questions = QUESTIONS + ["", "a", "?"]
    return questions, passages


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx")
    path = export_onnx(resolve_model_path("all-MiniLM-L6-v2"), out)
    assert path == out / MODEL_FILE and path.stat().st_size > 1_000_000
    return out


@pytest.fixture(scope="session")
def both_vectors(onnx_dir, shared_encoder):
    questions, passages = _varied_texts()
    texts = questions + passages
    assert len(texts) >= 200
    # sentence-transformers itself (conftest's session model), not casebot's wrapper around it.
    st_model = shared_encoder.model
    ref = st_model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxQueryEncoder(onnx_dir).encode(texts)
    return questions, passages, ref.astype(np.float32), got


def test_vectors_agree_with_sentence_transformers(both_vectors):
    questions, passages, ref, got = both_vectors
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (ref * got).sum(axis=1)
    worst = int(cos.argmin())
    texts = questions + passages
    assert cos.min() >= 0.9999, f"cosine {cos.min():.6f} for {texts[worst][:80]!r}"


def test_same_top1_neighbour(both_vectors):
    questions, passages, ref, got = both_vectors
    nq = len(questions)
    # Every text as a query against all passages (questions and passages alike).
    ref_scores = ref @ ref[nq:].T
    got_scores = got @ got[nq:].T
    ref_top, got_top = ref_scores.argmax(1), got_scores.argmax(1)
    for i in np.nonzero(ref_top != got_top)[0]:
        # Only an exact tie (duplicate passages) may break differently.
        gap = ref_scores[i, ref_top[i]] - ref_scores[i, got_top[i]]
        assert gap < 1e-5, f"query {i}: top-1 {ref_top[i]} vs {got_top[i]} (gap {gap:.6f})"


def test_encode_query_matches_batch(onnx_dir):
    enc = OnnxQueryEncoder(onnx_dir)
    batch = enc.encode(["Who sued Clearview?", "a much longer second text " * 20])
    single = enc.encode_query("Who sued Clearview?")
    assert single.shape == (enc.dimension,)
    assert float(single @ batch[0]) > 0.99999
    assert enc.encode([]).shape == (0, enc.dimension)


def test_query_path_never_imports_torch(onnx_dir):
    code = (
        "import sys\n"
        "from embeddings.models.onnx_encoder import OnnxQueryEncoder\n"
        f"v = OnnxQueryEncoder({str(onnx_dir)!r}).encode_query('Who sued Clearview?')\n"
        "assert v.shape == (384,), v.shape\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"heavy modules imported: {done.stdout.strip()[:300]}"
