"""Score answers against a question file (format of tests/data/README.md): facts, sources, refusals and
citation integrity. Used by the tests and by ``casebot eval``."""

from __future__ import annotations

import re
import time
from pathlib import Path

from embeddings.text import missing_groups, plain, read_jsonl

def seed_texts(seeds: Path) -> dict[str, str]:
    """doc_id -> normalized text of the seed as a reader sees it (raw file for text formats)."""
    from embeddings.parsers import is_seed, parse_file

    out = {}
    for path in sorted(seeds.iterdir()):
        if not is_seed(path):
            continue
        if path.suffix.lower() in {".txt", ".md", ".markdown"}:
            out[path.stem] = plain(path.read_text(encoding="utf-8", errors="replace"))
        else:
            try:
                out[path.stem] = plain(" ".join(d.text for d in parse_file(path)))
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
        if plain(c["quote"]) not in seeds.get(c["doc_id"], ""):
            problems.append(f"quote of [{c['n']}] is not verbatim in {c['doc_id']}")
    return problems


def judge(item: dict, answer: dict, seeds: dict[str, str]) -> dict:
    """One question's outcome: for answerable ones right / wrong / declined, for the others
    declined / answered; an answer whose citations don't check out is never right."""
    problems = citation_problems(answer, seeds)
    text = plain(answer.get("answer", ""))
    cited = {c["doc_id"] for c in answer.get("citations", [])}
    answered = bool(answer.get("answered"))
    evidence_found = None
    if item.get("evidence"):
        evidence_found = any(plain(item["evidence"]) in plain(p["text"]) for p in answer.get("passages", [])[:5])
    if item["kind"] == "out_of_scope":
        right = not answered
        outcome = "declined" if right else "answered"
        why = "declined" if right else f"answered: {answer.get('answer', '')[:160]}"
    else:
        missing = missing_groups(item["expect"], text)
        source_ok = not item["sources"] or bool(cited & set(item["sources"]))
        right = answered and not missing and source_ok
        outcome = "right" if right else "wrong" if answered else "declined"
        why = ("right" if right else
               "declined" if not answered else
               f"missing {missing}" if missing else f"cited {sorted(cited)}, wanted {item['sources']}")
    if problems:
        right = False
        outcome = "wrong" if answered else outcome
        why += "; " + "; ".join(problems)
    return {"id": item.get("id"), "question": item["question"], "kind": item["kind"],
            "category": item.get("category"), "right": right, "outcome": outcome, "answered": answered,
            "integrity": not problems, "evidence_found": evidence_found, "why": why}


def load_questions(path: Path) -> list[dict]:
    return read_jsonl(path)


def summarize(rows: list[dict]) -> dict:
    """The split the legal-AI studies report, plus citation integrity and time per question."""
    facts = [r for r in rows if r["kind"] == "fact"]
    oos = [r for r in rows if r["kind"] == "out_of_scope"]
    answered = [r for r in rows if r["answered"]]
    wrong = [r for r in answered if not r["right"]]
    ev = [r for r in rows if r["evidence_found"] is not None]
    count = lambda group, outcome: sum(r["outcome"] == outcome for r in group)  # noqa: E731
    secs = sorted(r.get("seconds", 0.0) for r in rows)
    return {
        "questions": len(rows),
        "answerable": len(facts),
        "answerable_right": count(facts, "right"),
        "answerable_wrong": count(facts, "wrong"),
        "answerable_declined": count(facts, "declined"),
        "unanswerable": len(oos),
        "unanswerable_declined": count(oos, "declined"),
        "unanswerable_answered": count(oos, "answered"),
        "answered": len(answered),
        "wrong_among_answered": len(wrong),
        "citation_integrity": f"{sum(r['integrity'] for r in rows)}/{len(rows)}",
        "evidence_in_top5": f"{sum(r['evidence_found'] for r in ev)}/{len(ev)}",
        "seconds_per_question_p50": round(secs[len(secs) // 2], 3) if secs else 0.0,
        "seconds_per_question_mean": round(sum(secs) / len(secs), 3) if secs else 0.0,
    }


def evaluate(engine, items: list[dict], seeds_dir: Path) -> dict:
    seeds = seed_texts(seeds_dir)
    rows = []
    for item in items:
        t0 = time.perf_counter()
        answer = engine.ask(item["question"]).to_json()
        row = judge(item, answer, seeds)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return {**summarize(rows), "rows": rows}


def evaluate_file(engine, path: Path, seeds_dir: Path) -> dict:
    return evaluate(engine, load_questions(path), seeds_dir)


def _share(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.2f})" if d else "–"


def table(summaries: dict[str, dict]) -> str:
    """A side-by-side table of summaries, one column per reader."""
    lines = [
        ("answerable: right", lambda s: _share(s["answerable_right"], s["answerable"])),
        ("answerable: wrong", lambda s: _share(s["answerable_wrong"], s["answerable"])),
        ("answerable: declined", lambda s: _share(s["answerable_declined"], s["answerable"])),
        ("unanswerable: declined", lambda s: _share(s["unanswerable_declined"], s["unanswerable"])),
        ("unanswerable: answered", lambda s: _share(s["unanswerable_answered"], s["unanswerable"])),
        ("wrong among answered", lambda s: _share(s["wrong_among_answered"], s["answered"])),
        ("citation integrity", lambda s: s["citation_integrity"]),
        ("seconds per question (p50)", lambda s: f"{s['seconds_per_question_p50']:.3f}"),
    ]
    names = list(summaries)
    cells = [[label] + [fmt(summaries[n]) for n in names] for label, fmt in lines]
    widths = [max(len(row[i]) for row in cells + [[""] + names]) for i in range(len(names) + 1)]
    out = ["  ".join([" " * widths[0]] + [n.ljust(w) for n, w in zip(names, widths[1:])])]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in cells]
    return "\n".join(out)
