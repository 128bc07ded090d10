"""Helpers for tests that build small indexes of made-up Markdown articles in tmp_path."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from embeddings.config import load_config
from embeddings.index.build import build_index
from tests.conftest import EXTRACTIVE


def quiet(_line: str) -> None:
    pass


def write_article(folder: Path, name: str, title: str, body: str, outlet: str = "Lakeshore Ledger",
                  published: str = "2023-04-12") -> Path:
    """A small Markdown seed with YAML front matter, the way a curator saves an article."""
    path = folder / name
    path.write_text(
        f'---\ntitle: "{title}"\noutlet: {outlet}\npublished: {published}\n'
        f"url: https://news.example.com/{path.stem}\n---\n\n{body}\n",
        encoding="utf-8",
    )
    return path


def cited(answer) -> set[str]:
    return {c.doc_id for c in answer.citations}


def small_index(root: Path, articles: dict[str, tuple[str, str]], encoder) -> SimpleNamespace:
    """Write {file name: (title, body)} into root/seeds and build root/index with the real model."""
    seeds = root / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for name, (title, body) in articles.items():
        write_article(seeds, name, title, body)
    config = load_config(env=EXTRACTIVE, paths__seeds=str(seeds), paths__index=str(root / "index"),
                         paths__feedback=str(root / "feedback.jsonl"))
    report = build_index(config, encoder, log=quiet)
    return SimpleNamespace(seeds=seeds, index=root / "index", report=report, version=report.version, config=config)


def copy_index(base: SimpleNamespace, dest: Path) -> tuple[Path, Path]:
    """A private copy of a built small index (seeds and index) that a test may damage or rebuild."""
    import shutil

    seeds = Path(shutil.copytree(base.seeds, dest / "seeds"))
    index = Path(shutil.copytree(base.index, dest / "index", symlinks=True))
    return seeds, index
