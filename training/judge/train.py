"""Fine-tune the judge: a sentence-transformers CrossEncoder from all-MiniLM-L6-v2 on pairs.jsonl.

    .venv/bin/python training/judge/make_pairs.py     # pairs from casebot's own candidates
    .venv/bin/python training/judge/train.py          # -> embeddings/answer/judge_model/ (fp16 weights)

Fixed seeds, --epochs passes over the pairs (each shuffled anew), batches of similar length (less
padding, same data). The held-out clusters (--holdout) are never trained on; at each checkpoint their
pair AUC is printed on the pipeline's own pairs and, apart, on their positives against the contrast
negatives made from them. --no-contrasts trains without the contrast pairs (the judge before them).
--checkpoints saves the model after those shares of the training too (the learning curve in the
README is read off them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAIRS = ROOT / "training" / "judge" / "pairs.jsonl"
OUT = ROOT / "embeddings" / "answer" / "judge_model"
HOLDOUT = "w1/c06,w3/c06,w5/c06"


def auc(labels: list[int], scores: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < sum(labels) < len(labels) else float("nan")


def batches(rows: list[dict], size: int, rng: random.Random) -> list[list[dict]]:
    """Shuffled, then sorted by length within windows of 50 batches, then the batches shuffled."""
    rows = rows[:]
    rng.shuffle(rows)
    out = []
    window = size * 50
    for start in range(0, len(rows), window):
        part = sorted(rows[start:start + window], key=lambda r: len(r["question"]) + len(r["candidate"]))
        out += [part[i:i + size] for i in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--base", default="all-MiniLM-L6-v2")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--pos-weight", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--holdout", default=HOLDOUT, help="clusters never trained on (comma-separated)")
    ap.add_argument("--contrasts", action=argparse.BooleanOptionalAction, default=True,
                    help="train on the contrast pairs (augment.py) too")
    ap.add_argument("--contrast-copies", type=int, default=1,
                    help="each contrast pair this many times in an epoch (a heavier weight on them)")
    ap.add_argument("--limit", type=float, default=1.0, help="train on this share of the questions")
    ap.add_argument("--checkpoints", default="", help="e.g. 0.25,0.5: also save after these shares of the training")
    args = ap.parse_args()

    import numpy as np
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder
    from transformers import get_linear_schedule_with_warmup

    from embeddings.models.encoder import resolve_model_path

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in args.pairs.read_text().splitlines() if line.strip()]
    held = set(filter(None, args.holdout.split(",")))
    train = [r for r in rows if r["cluster"] not in held and (args.contrasts or not r.get("augment"))]
    dev = [r for r in rows if r["cluster"] in held and not r.get("augment")]
    dev_contrast = [r for r in rows if r["cluster"] in held and (r.get("augment") or r["label"] == 1)]
    train += [r for r in train if r.get("augment")] * (args.contrast_copies - 1)
    if args.limit < 1.0:
        qids = sorted({r["qid"] for r in train})
        keep = set(random.Random(args.seed).sample(qids, int(len(qids) * args.limit)))
        train = [r for r in train if r["qid"] in keep]
    print(f"{len(train)} training pairs ({sum(r['label'] for r in train)} positive), "
          f"{len(dev)} held-out pairs", file=sys.stderr)

    model = CrossEncoder(str(resolve_model_path(args.base)), num_labels=1, max_length=args.max_length,
                         device="cpu")
    net, tok = model.model, model.tokenizer
    # The word-piece table stays as the base model learnt it: most of the model's weights, a sparse
    # signal here, and a third of each step's time on two cores.
    net.base_model.embeddings.word_embeddings.requires_grad_(False)
    plan = [b for _ in range(args.epochs) for b in batches(train, args.batch, rng)]
    steps = len(plan)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(args.pos_weight))
    marks = {max(1, int(float(x) * steps)): float(x) for x in filter(None, args.checkpoints.split(","))}

    def evaluate(tag: str) -> None:
        if not dev:
            return
        net.eval()
        line = f"[{tag}]"
        for name, part in (("held-out pair AUC", dev), ("contrast AUC", dev_contrast)):
            scores = model.predict([(r["question"], r["candidate"]) for r in part], batch_size=64,
                                   show_progress_bar=False)
            line += f"  {name} {auc([r['label'] for r in part], list(map(float, scores))):.3f}"
        net.train()
        print(line, file=sys.stderr, flush=True)

    net.train()
    t0 = time.time()
    running = 0.0
    for step, batch in enumerate(plan, start=1):
        enc = tok([r["question"] for r in batch], [r["candidate"] for r in batch], padding=True,
                  truncation="only_second", max_length=args.max_length, return_tensors="pt")
        labels = torch.tensor([float(r["label"]) for r in batch])
        loss = loss_fn(net(**enc).logits[:, 0], labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 25 == 0 or step == steps:
            rate = (time.time() - t0) / step
            print(f"step {step}/{steps}  loss {running:.4f}  {rate:.2f} s/step  "
                  f"eta {math.ceil((steps - step) * rate / 60)} min", file=sys.stderr, flush=True)
        if step in marks:
            path = args.out.parent / f"{args.out.name}-at-{marks[step]:.2f}"
            model.save(str(path))
            evaluate(f"{marks[step]:.2f}")
    net.half()
    model.save(str(args.out), safe_serialization=True)
    net.float()
    evaluate("final")
    (args.out / "training.json").write_text(json.dumps(
        {"base": args.base, "pairs": len(train), "positives": sum(r["label"] for r in train),
         "holdout": sorted(held), "batch": args.batch, "lr": args.lr, "max_length": args.max_length,
         "pos_weight": args.pos_weight, "seed": args.seed, "epochs": args.epochs,
         "contrasts": sum(bool(r.get("augment")) for r in train), "contrast_copies": args.contrast_copies, "steps": steps, "limit": args.limit,
         "seconds": round(time.time() - t0)}, indent=2) + "\n")
    print(f"saved {args.out} after {steps} steps in {(time.time() - t0) / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
