"""Training pairs for the judge, from casebot's own pipeline over the fictional corpus.

Each cluster of ``training/judge/corpus/<writer>/<cluster>/docs`` is indexed with casebot itself (one
index per cluster, as a real seeds folder would be); every question of its ``questions.jsonl`` then
runs through the same question, retrieval and candidate stages as ``casebot ask``, and every sentence
of the judge's pool becomes one pair, shown with the heading the judge sees at query time
(``Document.headed``). So the negatives are the real near-misses the pipeline produces. Then each
positive gets its contrast negatives (``augment.py``: the same sentence with the answer words
removed, the same question about another party), marked ``"augment"``.

A pool sentence is labelled 1 when it is one of the question's ``answer_sentences`` (matched after
normalising, or mostly the same words) and holds one of its ``answer`` strings (in the sentence or its
heading); 0 when the question is not answerable or the sentence neither matches nor holds the answer;
and left out when it holds the answer words without being a labelled sentence (an unlabelled restating
of the answer: not safe as a negative). Answer sentences the pool missed are added as positives, so
the judge also learns the answers that retrieval finds hard.

    .venv/bin/python training/judge/make_pairs.py   # -> training/judge/pairs.jsonl, its counts in pairs.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.text import plain as normalize  # noqa: E402
from training.judge.augment import contrasts, words  # noqa: E402

CORPUS = ROOT / "training" / "judge" / "corpus"
OUT = ROOT / "training" / "judge" / "pairs.jsonl"


def matches(candidate: str, gold: str) -> bool:
    c, g = normalize(candidate), normalize(gold)
    if c == g or (len(c) > 20 and c in g) or (len(g) > 20 and g in c):
        return True
    cw, gw = words(candidate), words(gold)
    return bool(cw and gw) and len(cw & gw) / min(len(cw), len(gw)) >= 0.8


def clusters(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*/*") if (p / "questions.jsonl").exists() and (p / "docs").is_dir())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--wider", action="store_true",
                    help="also the figures-removed and wider name contrasts (measured, not shipped: training/judge/README.md)")
    args = ap.parse_args()

    from embeddings.answer.judge import judge_candidates
    from embeddings.answer.question import Question
    from embeddings.config import load_config
    from embeddings.models.encoder import Encoder
    from embeddings.engine import Engine
    from embeddings.retrieval.local import hybrid_search

    base = load_config(env={})
    encoder = Encoder.from_config(base.model)
    n_pairs = n_pos = n_q = 0
    items: dict[str, dict] = {}
    positives: list[dict] = []
    pools: list[int] = []
    with open(args.out, "w") as out, tempfile.TemporaryDirectory() as tmp:
        for cluster in clusters(args.corpus):
            name = f"{cluster.parent.name}/{cluster.name}"
            seeds = Path(tmp) / name / "seeds"
            shutil.copytree(cluster / "docs", seeds)
            paths = replace(base.paths, seeds=seeds, index=Path(tmp) / name / "index",
                            database=Path(tmp) / name / "db.sqlite", feedback=Path(tmp) / name / "fb.jsonl")
            config = replace(base, paths=paths, reader=replace(base.reader, backend="none"),
                             decision=replace(base.decision, with_judge=""))
            engine = Engine.open(config, encoder=encoder, log=lambda _line: None)
            data = engine.data
            for line in (cluster / "questions.jsonl").read_text().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                items[item["id"]] = item
                n_q += 1
                gold = item.get("answer_sentences") or [] if item["kind"] == "answerable" else []
                answers = [normalize(a) for a in item.get("answer") or []] if gold else []
                q = Question.ask(item["question"], config.question.max_chars, engine.query_encoder, data.lexicon)
                pool = judge_candidates(data, hybrid_search(data, q, config.retrieval, {}), q, config)
                sids = [c.sid for c in pool]
                pools.append(len(sids))
                # answer sentences the pool missed join as extra positives
                missing = [g for g in gold if not any(matches(data.sentences[s].text, g) for s in sids)]
                extra = [sid for sid, sent in enumerate(data.sentences)
                         if sid not in sids and any(matches(sent.text, g) for g in missing)]
                for rank, sid in enumerate(sids + extra):
                    sent = data.sentences[sid]
                    doc = data.documents[sent.doc_key]
                    text = doc.headed(sent.text)
                    holds = bool(answers) and any(a in normalize(text) for a in answers)
                    if gold and any(matches(sent.text, g) for g in gold) and holds:
                        label = 1
                    elif holds:
                        continue
                    else:
                        label = 0
                    n_pairs += 1
                    n_pos += label
                    row = {"qid": item["id"], "cluster": name, "kind": item["kind"],
                           "category": item.get("category"), "question": item["question"],
                           "candidate": text, "label": label, "pool_rank": rank if rank < len(sids) else None}
                    out.write(json.dumps(row) + "\n")
                    if label:
                        positives.append(row)
            print(f"{name}: {n_q} questions, {n_pairs} pairs, {n_pos} positive so far", file=sys.stderr)
        made = contrasts(positives, items, wider=args.wider)
        for row in made:
            out.write(json.dumps(row) + "\n")
    kinds = {k: sum(r["augment"] == k for r in made) for k in sorted({r["augment"] for r in made})}
    counts = {"pairs": n_pairs + len(made), "positives": n_pos, "contrasts": kinds, "questions": n_q,
              "answerable": sum(i["kind"] == "answerable" for i in items.values()),
              "answerable_with_positive": len({r["qid"] for r in positives}),
              "answerable_with_positive_in_pool": len({r["qid"] for r in positives if r["pool_rank"] is not None}),
              "pool_size_mean": round(sum(pools) / max(len(pools), 1), 1)}
    if args.out == OUT:
        (OUT.parent / "pairs.json").write_text(json.dumps(counts, indent=2) + "\n")
    print(f"wrote {counts['pairs']} pairs ({n_pos} positive, contrasts {kinds}) for {n_q} questions "
          f"to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
