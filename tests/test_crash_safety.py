"""A rebuild killed with SIGKILL leaves the previous index whole, loadable and answering.

Three child processes, each stopped at a known point of ``casebot index --full``:

* the CLI itself, killed as soon as it announces "embedding ..." (the model is loading/encoding);
* a child stopped after every file of the new version is written, before its fsync and rename
  (``store._fsync_tree`` is patched to wait on a pipe the parent never writes to);
* a child stopped after the new version is renamed into ``versions/``, before ``current`` is swapped
  (``os.replace`` onto ``current`` is patched the same way).

The two patched children get vectors of the right shape from a stand-in encoder instead of loading the
model: they are killed before those vectors could ever be served. Nothing is timed; every kill happens
at a point the child has reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from embeddings.config import PROJECT_ROOT
from embeddings.engine import Engine, load_index
from embeddings.errors import IndexLocked
from embeddings.index import store
from embeddings.index.build import build_index
from embeddings.index.check import check_index
from tests.corpus import copy_index, quiet, small_index

VENV_BIN = Path(sys.executable).parent
CHILD_TIMEOUT = 120  # seconds: only a safety net if a child never reaches its stopping point

HARBOR = (
    "Harborview Mall agreed to pay $3.2 million to settle a class action over its hidden face-scanning "
    "cameras. The cameras photographed every shopper who entered the food court between 2019 and 2021. "
    "Judge Marisol Okafor approved the settlement in Cook County Circuit Court."
)
TRANSIT = (
    "The Riverton Transit Authority suspended its facial recognition pilot on city buses after riders "
    "complained. The pilot scanned the faces of roughly 40,000 riders each week. The agency said it "
    "deleted all stored face templates in March."
)
Q_HARBOR = "How much did Harborview Mall pay to settle the face-scanning lawsuit?"

CHILD = r'''
import os, sys
from pathlib import Path
import numpy as np
from embeddings.config import load_config
from embeddings.index import store
from embeddings.index.build import build_index
from embeddings.models.encoder import Encoder

seeds, index, phase = sys.argv[1:4]


class ShapeOnlyEncoder(Encoder):
    """Unit vectors of the model's dimension, without loading it."""

    def encode(self, texts, progress=False):
        self.calls += 1
        v = np.random.default_rng(0).standard_normal((len(texts), self.dimension)).astype("float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def stop_here(marker):
    print(marker, flush=True)
    sys.stdin.read()  # the parent never writes: wait here for the SIGKILL


if phase == "written":
    fsync_tree = store._fsync_tree

    def _fsync_tree(folder):
        stop_here(f"WRITTEN {folder}")
        fsync_tree(folder)

    store._fsync_tree = _fsync_tree
elif phase == "renamed":
    replace = os.replace

    def _replace(src, dst, *args, **kwargs):
        if Path(dst).name == "current":
            stop_here(f"RENAMED {os.readlink(src)}")
        return replace(src, dst, *args, **kwargs)

    os.replace = _replace

config = load_config(env={}, paths__seeds=seeds, paths__index=index)
build_index(config, ShapeOnlyEncoder(config.model.name), full=True, log=lambda line: None)
print("FINISHED", flush=True)
'''


@pytest.fixture(scope="module")
def base(tmp_path_factory, shared_encoder):
    return small_index(tmp_path_factory.mktemp("crash-base"), {
        "harbor.md": ("Harborview Mall settles face-scanning lawsuit", HARBOR),
        "transit.md": ("Riverton transit agency pauses facial recognition pilot", TRANSIT),
    }, shared_encoder)


@pytest.fixture
def work(base, tmp_path, make_config, shared_encoder):
    seeds, index = copy_index(base, tmp_path)
    return SimpleNamespace(seeds=seeds, index=index, config=make_config(seeds, index), enc=shared_encoder,
                           version=base.version, tmp=tmp_path)


def start_until(args: list[str], marker: str, stream: str, log: Path) -> tuple[subprocess.Popen, str]:
    """Start a child and read ``stream`` until a line starts with ``marker``; the child keeps running."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    other = open(log, "w")
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE if stream == "stdout" else other,
                            stderr=subprocess.PIPE if stream == "stderr" else other)
    other.close()
    guard = threading.Timer(CHILD_TIMEOUT, proc.kill)
    guard.start()
    seen = []
    try:
        for line in getattr(proc, stream):
            seen.append(line)
            if line.startswith(marker):
                return proc, line.strip()
    finally:
        guard.cancel()
    proc.kill()
    proc.wait()
    pytest.fail(f"child exited ({proc.returncode}) before printing {marker!r}:\n{''.join(seen)}\n"
                f"{log.read_text()[-3000:]}")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def assert_previous_index_serves(work) -> None:
    assert store.current_version(work.index) == work.version
    assert check_index(work.config) == []
    retriever = load_index(work.config, work.enc)
    assert retriever.version == work.version
    answer = Engine(work.config, work.enc, retriever, quiet).ask(Q_HARBOR)
    assert answer.answered and {c.doc_id for c in answer.citations} == {"harbor"}
    assert answer.index_version == work.version
    with store.index_lock(work.index):  # the kernel released the dead child's lock
        pass


def assert_next_build_works(work) -> str:
    calls = work.enc.calls
    report = build_index(work.config, work.enc, log=quiet)
    # Nothing changed in the seeds: the previous version is reused whole, nothing is embedded again.
    assert report.encoded == 0 and work.enc.calls == calls
    assert report.unchanged == ["harbor.md", "transit.md"]
    assert store.current_version(work.index) == report.version
    assert sorted(p.name for p in (work.index / "versions").iterdir()) == sorted([work.version, report.version])
    assert check_index(work.config) == []
    assert load_index(work.config, work.enc).version == report.version
    return report.version


def test_cli_killed_while_embedding_leaves_the_previous_index(work):
    proc, line = start_until(
        [str(VENV_BIN / "casebot"), "--seeds", str(work.seeds), "--index", str(work.index), "index", "--full"],
        "embedding ", "stderr", work.tmp / "child.out")
    assert "passages and" in line
    kill(proc)
    assert_previous_index_serves(work)
    assert sorted(p.name for p in (work.index / "versions").iterdir()) == [work.version]
    assert_next_build_works(work)


def test_killed_with_the_new_version_written_but_not_renamed(work):
    proc, line = start_until([sys.executable, "-c", CHILD, str(work.seeds), str(work.index), "written"],
                             "WRITTEN ", "stdout", work.tmp / "child.err")
    tmp = Path(line.split(" ", 1)[1])
    try:
        assert tmp.parent == work.index / "versions" and tmp.name.startswith(".tmp-")
        assert tmp.name.endswith(f"-{proc.pid}") and (tmp / "manifest.json").exists()
        # While the child holds the lock, a second build is refused by name; readers are unaffected.
        with pytest.raises(IndexLocked, match=rf"another `casebot index` is rebuilding .*\(pid {proc.pid}\)"):
            build_index(work.config, work.enc, log=quiet)
        assert load_index(work.config, work.enc).version == work.version
    finally:
        kill(proc)

    assert tmp.is_dir(), "the half-finished version is left behind by the kill"
    assert_previous_index_serves(work)
    assert_next_build_works(work)
    assert not tmp.exists(), "the next build collects the leftover .tmp- folder"


def test_killed_with_the_new_version_renamed_but_current_not_swapped(work):
    proc, line = start_until([sys.executable, "-c", CHILD, str(work.seeds), str(work.index), "renamed"],
                             "RENAMED ", "stdout", work.tmp / "child.err")
    orphan = work.index / line.split(" ", 1)[1]
    try:
        assert orphan.parent == work.index / "versions" and orphan.name != work.version
        assert (orphan / "manifest.json").exists()
        assert store.current_version(work.index) == work.version
    finally:
        kill(proc)

    assert_previous_index_serves(work)
    assert sorted(p.name for p in (work.index / "versions").iterdir()) == sorted([work.version, orphan.name])
    new = assert_next_build_works(work)
    assert not orphan.exists() and new != orphan.name
    # The dead child's half-made link is never followed: only `current` is read.
    assert os.readlink(work.index / "current") == os.path.join("versions", new)
