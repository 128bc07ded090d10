"""Shared fixtures: one real model per test session, real indexes built in temporary folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from embeddings.config import PROJECT_ROOT, load_config  # noqa: E402
from embeddings.models.encoder import Encoder  # noqa: E402

REPO_SEEDS = PROJECT_ROOT / "seeds"
DEV_SET = PROJECT_ROOT / "tests" / "data" / "dev.jsonl"
CALIBRATION_SET = PROJECT_ROOT / "tests" / "data" / "calibration.jsonl"
# Tests of everything but the judge and the reader run the extractive path (their own fallback), whose
# answers the tests below pin: the judge is tested by tests/test_judge.py, the reader model is loaded
# once, by tests/test_reader.py.
EXTRACTIVE = {"CASEBOT_READER_BACKEND": "none", "CASEBOT_DECISION_WITH_JUDGE": ""}
# The default answer stage but for the reader: what `casebot ask` runs.
WITH_JUDGE = {"CASEBOT_READER_BACKEND": "none"}


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch, tmp_path):
    """No CASEBOT_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CASEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CASEBOT_HISTORY", str(tmp_path / "history"))
    for name, value in EXTRACTIVE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def shared_encoder() -> Encoder:
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    enc = Encoder("all-MiniLM-L6-v2")
    enc.model  # load now, so test timings don't hide it
    return enc


@pytest.fixture(scope="session")
def repo_index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("repo-index")


@pytest.fixture(scope="session")
def repo_config(repo_index_dir):
    return load_config(env=EXTRACTIVE, paths__seeds=str(REPO_SEEDS), paths__index=str(repo_index_dir))


@pytest.fixture(scope="session")
def repo_engine(repo_config, shared_encoder):
    """An Engine over the repository's own seeds, index built once per session."""
    from embeddings.engine import Engine

    return Engine.open(repo_config, encoder=shared_encoder, log=lambda _: None)


@pytest.fixture(scope="session")
def judge_config(repo_config):
    from dataclasses import replace

    return replace(load_config(env=WITH_JUDGE), paths=repo_config.paths)


@pytest.fixture(scope="session")
def judge_engine(judge_config, repo_engine):
    """The default answer stage (judge, no reader) over the repo's seeds, sharing the session's
    index; its judge is loaded once for the session."""
    from embeddings.engine import Engine

    engine = Engine(judge_config, repo_engine.encoder, repo_engine.retriever, lambda _: None)
    assert engine.judge is not None, engine.judge_failed
    return engine


def copy_seeds(dest: Path, names: list[str] | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(REPO_SEEDS.iterdir()):
        if names is None or path.name in names:
            shutil.copy(path, dest / path.name)
    return dest


@pytest.fixture
def make_config(tmp_path):
    def factory(seeds_dir: Path, index_dir: Path | None = None, **overrides):
        return load_config(env=EXTRACTIVE, paths__seeds=str(seeds_dir),
                           paths__index=str(index_dir or tmp_path / "index"),
                           paths__feedback=str(tmp_path / "feedback.jsonl"),
                           paths__database=str(tmp_path / "casebot.db"), **overrides)
    return factory


@pytest.fixture
def make_engine(make_config, shared_encoder):
    """A fresh Engine with its own index in tmp_path, sharing the session's model."""
    from embeddings.engine import Engine

    def factory(seeds_dir: Path, index_dir: Path | None = None, **overrides):
        return Engine.open(make_config(seeds_dir, index_dir, **overrides), encoder=shared_encoder, log=lambda _: None)
    return factory


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A private copy of the repository's seeds that a test may change."""
    return copy_seeds(tmp_path / "seeds")
