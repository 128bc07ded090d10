"""Checks on the judge's training corpus: its labels hold, and it shares nothing with the seeds.

- every ``answer_sentences`` / ``near_miss`` string occurs in its cluster's documents and every
  ``answer`` string in one of its answer sentences (labels that point at nothing teach nothing);
- no sentence of a training document or question shares with any seed a run of six words, a figure
  (a number of two or more digits) or a name (a capitalised word the seeds use only as a name).

    .venv/bin/python training/judge/corpus_check.py      # prints problems, exits 1 if any
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "training" / "judge" / "corpus"
SEEDS = ROOT / "seeds"

# Capitalised words that are ordinary English or calendar words, not names of anything in a seed.
COMMON = {
    "a", "an", "the", "in", "on", "at", "of", "for", "and", "or", "but", "to", "by", "with", "from", "as",
    "it", "its", "this", "that", "these", "those", "he", "she", "they", "we", "i", "you", "his", "her",
    "their", "our", "if", "when", "while", "after", "before", "since", "under", "over", "according",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "ai", "a.i", "us", "u.s", "usa", "american", "federal", "state", "states", "united", "european", "europe",
    "ceo", "inc", "llc", "ltd", "corp", "co", "mr", "ms", "dr", "st", "new", "news", "related", "article",
    "photo", "file", "read", "more", "share", "sign", "subscribe", "newsletter", "copyright", "all",
    "rights", "reserved", "privacy", "policy", "law", "act", "court", "judge", "police", "department",
    "general", "attorney", "county", "city", "district", "circuit", "supreme", "commission", "office",
    "data", "protection", "information", "biometric", "facial", "face", "recognition", "technology",
    "company", "companies", "lawsuit", "class", "action", "settlement", "agreement", "complaint",
    "plaintiffs", "defendant", "defendants", "national", "international", "government", "public",
    "english", "french", "german", "spanish", "italian", "internet", "web", "online", "app", "apps",
    "computer", "vision", "category", "title", "excerpt", "type", "provider", "name", "domain", "topics",
    "there", "what", "who", "how", "why", "where", "which", "is", "are", "was", "were", "will", "be",
    "not", "no", "yes", "so", "also", "one", "two", "three", "first", "last", "year", "years", "day",
    "week", "month", "however", "meanwhile", "still", "now", "today", "then", "here", "both", "each",
    "other", "another", "such", "some", "many", "most", "any", "every", "only", "just", "even",
    # ordinary words the seeds happen to capitalise (headlines, "ID a person", "Accepted stop selling")
    "id", "given", "camera", "civil", "record", "times", "union", "accepted", "border", "northern",
    "attempting", "division", "informatics",
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9$']+", text.lower())


def runs(text: str, n: int = 6) -> set[str]:
    w = words(text)
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def figures(text: str) -> set[str]:
    """Numbers of three or more digits ("380", "5,000", "2023") and scaled ones ("2.3 million")."""
    out = {m.replace(",", "") for m in re.findall(r"\d[\d,]*\d", text) if len(m.replace(",", "")) >= 3}
    out |= {" ".join(m.lower().split()) for m in re.findall(r"\d[\d,.]*\s+(?:million|billion|percent)", text, re.I)}
    return out


def capital_runs(text: str) -> list[str]:
    """Runs of capitalised words inside sentences ("Daily Camera", "Hoan Ton-That", "Illinois"):
    the first word of a sentence or line is left out, since a capital there names nothing."""
    out = []
    for sentence in re.split(r"(?<=[.!?:;\"“”])\s+|\n+", text):
        tokens = re.findall(r"[\w'’.-]+|[^\w\s]", sentence)
        run: list[str] = []
        for i, tok in enumerate(tokens + ["."]):
            if i > 0 and tok[:1].isupper() and tok.lower().strip(".") not in COMMON:
                run.append(tok.strip(".").removesuffix("'s").removesuffix("’s"))
            elif run and tok.lower() in {"of", "&"} and i + 1 < len(tokens) and tokens[i + 1][:1].isupper():
                run.append(tok)
            else:
                if run:
                    out.append(" ".join(run))
                run = []
    return out


def seed_names(texts: list[str]) -> set[str]:
    """Names in the seeds: runs of capitalised words with at least one word the seeds never write in
    lower case ("Clearview AI", "Illinois"; not a headline's "Use of Facial Recognition")."""
    lower = {w for t in texts for w in re.findall(r"\b[a-z][\w'-]+", t)}
    names = set()
    for t in texts:
        for run in capital_runs(t):
            if any(w.lower() not in lower and w.lower() not in COMMON for w in run.split()):
                names.add(run)
    return names


def seed_texts(seeds: Path) -> list[str]:
    """What casebot reads of each seed (title, text, related items; no URLs or image sizes)."""
    sys.path.insert(0, str(ROOT))
    from embeddings.parsers import is_seed, parse_file

    return [f"{d.title}\n{d.text}\n{d.outlet or ''}" for p in sorted(seeds.iterdir()) if is_seed(p)
            for d in parse_file(p)]


def seed_fingerprint(seeds: Path = SEEDS) -> tuple[set[str], set[str], set[str]]:
    texts = seed_texts(seeds)
    raw = [p.read_text(errors="ignore") for p in sorted(seeds.iterdir()) if p.suffix == ".txt"]
    # Six-word runs also from the raw files: boilerplate the parser drops is still the seeds' text.
    return (set().union(*(runs(t) for t in texts + raw)), set().union(*(figures(t) for t in texts)),
            seed_names(texts))


def leaks(text: str, fingerprint: tuple[set[str], set[str], set[str]]) -> list[str]:
    seed_runs, seed_figures, names = fingerprint
    found = [f"six words '{r}'" for r in sorted(runs(text) & seed_runs)]
    found += [f"figure {f}" for f in sorted(figures(text) & seed_figures)]
    found += [f"name {n}" for n in sorted(names) if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    return found


def label_problems(cluster: Path) -> list[str]:
    docs = " ".join(" ".join(p.read_text(errors="ignore").split()) for p in sorted((cluster / "docs").iterdir()))
    docs += " " + docs.replace('\\"', '"')  # front matter values as YAML reads them (escaped quotes)
    problems = []
    for n, line in enumerate((cluster / "questions.jsonl").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{cluster}/questions.jsonl:{n}: not JSON")
            continue
        sentences = q.get("answer_sentences") or []
        if q.get("kind") not in {"answerable", "unanswerable", "off_topic", "adversarial"}:
            problems.append(f"{q.get('id')}: unknown kind {q.get('kind')!r}")
        if q.get("kind") == "answerable" and not (sentences and q.get("answer")):
            problems.append(f"{q.get('id')}: answerable without answer sentences or answer words")
        for s in sentences + (q.get("near_miss") or []):
            if " ".join(s.split()) not in docs and " ".join(s.replace('\\"', '"').split()) not in docs:
                problems.append(f"{q.get('id')}: sentence not in the documents: {s[:70]}")
        for a in q.get("answer") or []:
            if not any(a.lower() in s.lower() for s in sentences):
                problems.append(f"{q.get('id')}: answer {a!r} is in none of its sentences")
    return problems


def check(corpus: Path = CORPUS, seeds: Path = SEEDS) -> tuple[list[str], list[str]]:
    """(leaks, label problems) over every cluster of the corpus."""
    fingerprint = seed_fingerprint(seeds)
    leak_lines, label_lines = [], []
    for cluster in sorted(p for p in corpus.glob("*/*") if (p / "questions.jsonl").exists()):
        for path in sorted((cluster / "docs").iterdir()) + [cluster / "questions.jsonl"]:
            for n, line in enumerate(path.read_text(errors="ignore").splitlines(), start=1):
                if path.suffix == ".jsonl" and line.strip():
                    q = json.loads(line)  # the words, not the ids
                    line = " ".join([q.get("question", "")] + (q.get("answer_sentences") or []))
                found = leaks(line, fingerprint)
                if found:
                    leak_lines.append(f"{path.relative_to(corpus)}:{n}: {', '.join(found)}")
        label_lines += label_problems(cluster)
    return leak_lines, label_lines


if __name__ == "__main__":
    leak_lines, label_lines = check(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
    for line in leak_lines + label_lines:
        print(line)
    print(f"{len(leak_lines)} lines share text with the seeds; {len(label_lines)} label problems", file=sys.stderr)
    sys.exit(1 if leak_lines or label_lines else 0)
