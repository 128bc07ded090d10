"""Score answers against a question file (format of tests/data/README.md): facts, sources, refusals and
citation integrity. Used by the tests and by ``casebot eval``."""

from __future__ import annotations

import json
import re
from pathlib import Path

_PLAIN = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\u00a0": " "})


def normalize(text: str) -> str:
    return " ".join(text.translate(_PLAIN).split()).casefold()


def seed_texts(seeds: Path) -> dict[str, str]:
    """doc_id -> normalized text of the seed as a reader sees it (raw file for text formats)."""
    from embeddings.parsers import is_seed, parse_file

    out = {}
    for path in sorted(seeds.iterdir()):
        if not is_seed(path):
            continue
        if path.suffix.lower() in {".txt", ".md", ".markdown"}:
            out[path.stem] = normalize(path.read_text(encoding="utf-8", errors="replace"))
        else:
            try:
                out[path.stem] = normalize(" ".join(d.text for d in parse_file(path)))
            except Exception:
                out[path.stem] = ""
    return out


def citation_problems(answer: dict, seeds: dict[str, str]) -> list[str]:
    """Every [n] has exactly one citation n, and every quote is verbatim in the seed it names."""
    problems = []
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.get("answer", ""))}
    numbers = [c["n"] for c in answer.get("citations", [])]
    for n in markers:
        if numbers.count(n) != 1:
            problems.append(f"[{n}] has {numbers.count(n)} citations")
    for c in answer.get("citations", []):
        if c["n"] not in markers:
            problems.append(f"citation {c['n']} is not referenced in the answer")
        if normalize(c["quote"]) not in seeds.get(c["doc_id"], ""):
            problems.append(f"quote of [{c['n']}] is not verbatim in {c['doc_id']}")
    return problems


def judge(item: dict, answer: dict, seeds: dict[str, str]) -> dict:
    problems = citation_problems(answer, seeds)
    text = normalize(answer.get("answer", ""))
    cited = {c["doc_id"] for c in answer.get("citations", [])}
    evidence_found = None
    if item.get("evidence"):
        evidence_found = any(normalize(item["evidence"]) in normalize(p["text"]) for p in answer.get("passages", [])[:5])
    if item["kind"] == "out_of_scope":
        right = not answer.get("answered")
        why = "declined" if right else f"answered: {answer.get('answer', '')[:160]}"
    else:
        missing = [g for g in item["expect"] if not any(normalize(s) in text for s in g)]
        source_ok = not item["sources"] or bool(cited & set(item["sources"]))
        right = bool(answer.get("answered")) and not missing and source_ok
        why = ("right" if right else
               "declined" if not answer.get("answered") else
               f"missing {missing}" if missing else f"cited {sorted(cited)}, wanted {item['sources']}")
    right = right and not problems
    if problems:
        why += "; " + "; ".join(problems)
    return {"id": item.get("id"), "question": item["question"], "kind": item["kind"], "right": right,
            "integrity": not problems, "evidence_found": evidence_found, "why": why}


def evaluate_file(engine, path: Path, seeds_dir: Path) -> dict:
    seeds = seed_texts(seeds_dir)
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [judge(item, engine.ask(item["question"]).to_json(), seeds) for item in items]
    facts = [r for r in rows if r["kind"] == "fact"]
    oos = [r for r in rows if r["kind"] == "out_of_scope"]
    ev = [r for r in rows if r["evidence_found"] is not None]
    return {
        "questions": len(rows),
        "right": sum(r["right"] for r in rows),
        "facts_right": f"{sum(r['right'] for r in facts)}/{len(facts)}",
        "declined_right": f"{sum(r['right'] for r in oos)}/{len(oos)}",
        "citation_integrity": f"{sum(r['integrity'] for r in rows)}/{len(rows)}",
        "evidence_in_top5": f"{sum(r['evidence_found'] for r in ev)}/{len(ev)}",
        "rows": rows,
    }
