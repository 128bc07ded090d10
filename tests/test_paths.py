"""Every file a README, a doc or a code line names by its path exists: stale references fail here."""

from __future__ import annotations

import re

from embeddings.config import PROJECT_ROOT

# A path from the project root: a top folder of the repository, then a file name with an ending, or
# a folder ("docs/", "embeddings/answer/"). Placeholders (<model>, *, {n}) are not paths.
_PATH = re.compile(r"(?<![\w./-])((?:docs|embeddings|bot|benchmarks|tests|scripts|config)/[\w./<>*{}-]*[\w/>}*])")
_SKIP = re.compile(r"[<>*{}]")


def _named() -> dict[str, set[str]]:
    files = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md")),
             *sorted((PROJECT_ROOT / "tests" / "data").glob("*.md")), PROJECT_ROOT / "config" / "default.toml",
             PROJECT_ROOT / "scripts" / "setup", PROJECT_ROOT / "scripts" / "test"]
    for folder in ("embeddings", "bot", "benchmarks", "tests"):
        files += sorted((PROJECT_ROOT / folder).rglob("*.py"))
    out: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for m in _PATH.finditer(text):
            if _SKIP.search(m.group(1)):
                continue
            out.setdefault(m.group(1).rstrip("."), set()).add(str(path.relative_to(PROJECT_ROOT)))
    return out


def test_every_named_path_exists():
    named = _named()
    assert len(named) > 20  # the scan finds the references it is meant to check
    missing = {p: sorted(where) for p, where in named.items() if not (PROJECT_ROOT / p).exists()}
    assert missing == {}
