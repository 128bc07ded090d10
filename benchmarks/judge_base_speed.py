"""What a judge base costs on this CPU: seconds per training step and milliseconds to score the
sentences the default policy reads, for each base model given, side by side.

    .venv/bin/python benchmarks/judge_base_speed.py [--base all-MiniLM-L6-v2 --base /path/to/all-mpnet-base-v2]

Each base is loaded as training/judge/train.py loads it (sentence-transformers ``CrossEncoder``, one
logit, max_length 128, the word-piece table frozen) and timed on one fictional (question, headed
sentence) pair of the training corpus's shape, repeated: a training step over a batch of 32 (AdamW,
as train.py), and a forward pass over the 7 pairs the default policy has the judge read ([judge] read
6 and the pick), both in torch. The query path runs the judge through onnxruntime (about 1.5x faster
than torch here for MiniLM); the ratio between bases is what this measures. The projected training
time is the shipped judge's step count (its training.json) at the timed rate: an estimate, since real
batches vary in length (the report carries the shipped run's own seconds a step beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTION = "How much did the company agree to pay to settle the biometric privacy class action in the state?"
SENTENCE = ("Granite Lake Daily (2021-04-02): In a filing on Tuesday, the plaintiffs' lawyers said the company had "
            "agreed to pay $41.5 million, “a record for a privacy case in this district,” according to the motion "
            "for preliminary approval signed by Judge Morales.")
# The shipped judge's own run: its steps and how long they took (real batches, sorted by length).
SHIPPED = json.loads((ROOT / "embeddings" / "answer" / "judge_model" / "training.json").read_text())


def measure(base: str, steps: int, reads: int) -> dict:
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    from embeddings.models.encoder import resolve_model_path

    torch.manual_seed(13)
    model = CrossEncoder(str(resolve_model_path(base)), num_labels=1, max_length=128, device="cpu")
    net, tok = model.model, model.tokenizer
    net.base_model.embeddings.word_embeddings.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=5e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    batch = tok([QUESTION] * 32, [SENTENCE] * 32, padding=True, truncation="only_second", max_length=128,
                return_tensors="pt")
    net.train()
    times = []
    for _ in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        loss_fn(net(**batch).logits[:, 0], torch.ones(32)).backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - t0)
    step_s = sorted(times[1:])[len(times[1:]) // 2]
    net.eval()
    pairs = tok([QUESTION] * reads, [SENTENCE] * reads, padding=True, truncation="only_second", max_length=128,
                return_tensors="pt")
    with torch.no_grad():
        net(**pairs)
        reads_ms = []
        for _ in range(5):
            t0 = time.perf_counter()
            net(**pairs)
            reads_ms.append((time.perf_counter() - t0) * 1e3)
    parameters = sum(p.numel() for p in net.parameters())
    return {"base": Path(base).name, "parameters_m": round(parameters / 1e6, 1), "tokens_a_pair": int(batch["input_ids"].shape[1]),
            "train_s_per_step_batch32": round(step_s, 2), f"torch_ms_to_read_{reads}": round(sorted(reads_ms)[2]),
            "shipped_recipe_hours_estimate": round(SHIPPED["steps"] * step_s / 3600, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", action="append", help="a base model: a name casebot resolves or a local folder (repeatable)")
    ap.add_argument("--steps", type=int, default=4, help="training steps timed (after one warm-up)")
    ap.add_argument("--reads", type=int, default=7, help="pairs scored in one forward pass")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "judge_base_speed.json"))
    args = ap.parse_args()
    rows = [measure(base, args.steps, args.reads) for base in (args.base or ["all-MiniLM-L6-v2"])]
    for row in rows:
        print(json.dumps(row))
    report = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d"), "bases": rows,
              "shipped_run": {"base": SHIPPED["base"], "steps": SHIPPED["steps"], "seconds": SHIPPED["seconds"],
                              "s_per_step": round(SHIPPED["seconds"] / SHIPPED["steps"], 2)}}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
