"""The Milvus backend on the real engine: Milvus Lite 2.5.1 (the C++ Milvus), served on loopback once
per session exactly as a server is reached (MilvusClient(uri="http://127.0.0.1:PORT")), and once as a
local file opened in-process."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from embeddings.engine import Engine
from embeddings.errors import BackendUnavailable, IndexMismatch
from embeddings.index import store
from embeddings.index.build import build_index
from tests.conftest import DEV_SET, EXTRACTIVE, PROJECT_ROOT, REPO_SEEDS, WITH_JUDGE, copy_seeds

milvus_backend = pytest.importorskip("embeddings.index.milvus_backend")

CASEBOT = Path(sys.executable).with_name("casebot")
_names = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """One Milvus Lite served on loopback for the session; every test uses its own collection alias."""
    port = free_port()
    server = milvus_backend.serve_lite(tmp_path_factory.mktemp("milvus") / "casebot.db", port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def milvus_settings(milvus_uri):
    return {"backend__kind": "milvus", "backend__uri": milvus_uri, "backend__collection": f"t{next(_names)}",
            "backend__timeout_seconds": 20}


def backend_for(config):
    return milvus_backend.MilvusPublisher(config)


def stored_ids(config, collection: str) -> set[str]:
    client = backend_for(config).client
    rows = client.query(collection, filter='chunk_id != ""', output_fields=["chunk_id"], limit=16384)
    return {r["chunk_id"] for r in rows}


def cli(*args, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")}
    return subprocess.run([str(CASEBOT), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**clean, **EXTRACTIVE, **env})


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("casebot:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def env_for(settings: dict) -> dict:
    return {f"CASEBOT_{k.replace('__', '_').upper()}": str(v) for k, v in settings.items()}


@pytest.fixture(scope="module")
def milvus_repo(tmp_path_factory, repo_engine, milvus_uri, shared_encoder):
    """The repository's FAISS index copied, then published to Milvus by `index` (no text embedded
    again: the same vectors, so any difference is the search backend's)."""
    from embeddings.config import load_config

    index = tmp_path_factory.mktemp("milvus-repo") / "index"
    shutil.copytree(repo_engine.config.paths.index, index, symlinks=True)
    config = load_config(env=EXTRACTIVE, paths__seeds=str(REPO_SEEDS), paths__index=str(index), backend__kind="milvus",
                         backend__uri=milvus_uri, backend__collection="repo", backend__timeout_seconds=20)
    report = build_index(config, shared_encoder, log=lambda _: None)
    assert report.encoded == 0 and report.chunks == len(repo_engine.data.chunks)
    return Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)


def every_question() -> list[str]:
    """Every question in tests/data: the question sets' and each dialogue turn's."""
    out = []
    for path in sorted((PROJECT_ROOT / "tests" / "data").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                out.extend([item["question"]] if "question" in item else [t["question"] for t in item["turns"]])
    return list(dict.fromkeys(out))


def comparable(answer) -> dict:
    out = answer.to_json()
    out.pop("timings_ms", None)
    out.pop("index_version", None)
    return out


def test_milvus_answers_every_question_in_tests_data_exactly_as_faiss(repo_engine, milvus_repo):
    assert milvus_repo.retriever.kind == "milvus" and milvus_repo.data is None  # no version loaded here
    questions = every_question()
    assert len(questions) >= 440
    differ = [q for q in questions if comparable(repo_engine.ask(q)) != comparable(milvus_repo.ask(q))]
    assert differ == []


def test_milvus_and_faiss_agree_with_the_judge_deciding(tmp_path_factory, repo_engine, milvus_repo, shared_encoder):
    from embeddings.config import load_config

    def judged(engine):
        config = load_config(env=WITH_JUDGE, paths__seeds=str(REPO_SEEDS), paths__index=str(engine.config.paths.index),
                             backend__kind=engine.config.backend.kind, backend__uri=engine.config.backend.uri,
                             backend__collection=engine.config.backend.collection, backend__timeout_seconds=20)
        return Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)

    faiss, milvus = judged(repo_engine), judged(milvus_repo)
    assert faiss.judge is not None and milvus.judge is not None
    for line in DEV_SET.read_text().splitlines():
        q = json.loads(line)["question"]
        assert comparable(faiss.ask(q)) == comparable(milvus.ask(q)), q


def test_milvus_hits_and_scores_are_the_faiss_ones(repo_engine, milvus_repo):
    """Same passages, same fused scores, same order: Milvus's own BM25 (over casebot's terms) and its
    dense search find what the local FAISS + BM25 find."""
    from embeddings.answer.question import Question

    depth = repo_engine.config.retrieval.candidates
    for q in every_question()[:60]:
        local = Question.make(q, repo_engine.query_encoder.encode_query(q), repo_engine.retriever.lexicon)
        remote = Question.make(q, local.vector, milvus_repo.retriever.lexicon)
        assert (local.terms, local.unknown) == (remote.terms, remote.unknown), q
        a = repo_engine.retriever.candidates(local, depth)
        b = milvus_repo.retriever.candidates(remote, depth)
        assert [a.passages.chunks[h.row].chunk_id for h in a.hits] == [b.passages.chunks[h.row].chunk_id for h in b.hits], q
        for x, y in zip(a.hits, b.hits):  # float32 sums in another order: equal to 1e-6
            assert (y.fused, y.dense, y.lexical) == pytest.approx((x.fused, x.dense, x.lexical), rel=1e-6, abs=1e-6), q


def test_a_milvus_serving_process_reads_nothing_but_the_manifest(tmp_path, repo_engine, shared_encoder, milvus_uri):
    """With every file of the version folder but its manifest gone, a Milvus-mode process opens,
    answers and lists its sources exactly as before."""
    from embeddings.config import load_config

    index = tmp_path / "index"
    shutil.copytree(repo_engine.config.paths.index, index, symlinks=True)
    config = load_config(env=EXTRACTIVE, paths__seeds=str(REPO_SEEDS), paths__index=str(index), backend__kind="milvus",
                         backend__uri=milvus_uri, backend__collection="bare", backend__timeout_seconds=20)
    build_index(config, shared_encoder, log=lambda _: None)
    path = store.current_path(index)
    for child in path.iterdir():
        if child.name != "manifest.json":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    engine = Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)
    question = "How much did Facebook agree to pay over facial recognition in Illinois?"
    assert comparable(engine.ask(question)) == comparable(repo_engine.ask(question))
    assert [(d.key, d.title, d.outlet, d.url) for d in engine.sources()] == \
           [(d.key, d.title, d.outlet, d.url) for d in repo_engine.sources()]


def test_incremental_build_upserts_and_deletes_by_chunk_id(tmp_path, make_config, shared_encoder, milvus_settings):
    seeds = copy_seeds(tmp_path / "seeds", ["000_e6d5e0a2c1aa177b.txt", "003_38049205e7261289.txt",
                                            "004_23d3985e3772e314.txt", "004_23d3985e3772e314.meta.yaml"])
    config = make_config(seeds, **milvus_settings)
    build_index(config, shared_encoder, log=lambda _: None)
    first = store.read_manifest(config.paths.index)[1]["backend"]

    shutil.copy(REPO_SEEDS / "001_8487601e0b76af03.txt", seeds)                      # add
    shutil.copy(REPO_SEEDS / "001_8487601e0b76af03.meta.yaml", seeds)
    changed = seeds / "003_38049205e7261289.txt"                                      # change
    changed.write_text(changed.read_text() + "\n\nThe harbor commission fined the operator 47 pelicans.\n")
    (seeds / "000_e6d5e0a2c1aa177b.txt").unlink()                                     # delete
    report = build_index(config, shared_encoder, log=lambda _: None)
    assert report.added == ["001_8487601e0b76af03.meta.yaml", "001_8487601e0b76af03.txt"] or \
        "001_8487601e0b76af03.txt" in report.added
    path, manifest = store.read_manifest(config.paths.index)
    second = manifest["backend"]
    assert second["collection"] == first["collection"]              # incremental: same collection
    assert second["upserted"] > 0 and second["deleted"] > 0
    data = store.load_version(path, manifest)
    assert stored_ids(config, second["collection"]) == {c.chunk_id for c in data.chunks}
    assert not any(c.doc_id == "000_e6d5e0a2c1aa177b" for c in data.chunks)

    engine = Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)
    answer = engine.ask("How many pelicans did the harbor commission fine the operator?")
    assert answer.answered and "47 pelicans" in answer.answer
    assert all(c.doc_id != "000_e6d5e0a2c1aa177b"
               for c in engine.ask("Which outlet reported that Clarifai broke Illinois privacy law?").citations)


def test_full_rebuild_writes_a_new_collection_and_swaps_the_alias(tmp_path, make_config, shared_encoder,
                                                                   milvus_settings):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt"])
    config = make_config(seeds, **milvus_settings)
    backend = backend_for(config)
    names = []
    for _ in range(3):
        build_index(config, shared_encoder, full=True, log=lambda _: None)
        names.append(store.read_manifest(config.paths.index)[1]["backend"]["collection"])
        assert backend.current_collection() == names[-1]
    assert len(set(names)) == 3
    alive = set(backend.client.list_collections())
    assert names[0] not in alive and {names[1], names[2]} <= alive  # the one swapped out stays for readers
    assert backend.collection_manifest(names[0]) is None


def test_an_interrupted_rebuild_leaves_the_old_collection_serving(tmp_path, make_config, shared_encoder,
                                                                  milvus_settings, monkeypatch):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt", "004_23d3985e3772e314.txt"])
    config = make_config(seeds, **{**milvus_settings, "backend__upsert_batch": 2})
    engine = Engine.open(config, encoder=shared_encoder, log=lambda _: None)
    question = "What does the complaint against the company allege?"
    before = comparable(engine.ask(question))
    old_version, backend = engine.index_version, backend_for(config)
    old_collection = backend.current_collection()

    real_upsert, calls = type(backend.client).upsert, []

    def dies_midway(self, collection_name, data, *args, **kwargs):
        if collection_name != backend.registry.name:
            calls.append(collection_name)
            if len(calls) == 3:
                raise KeyboardInterrupt("killed")  # the process dies here, mid-insert
        return real_upsert(self, collection_name, data, *args, **kwargs)

    monkeypatch.setattr(type(backend.client), "upsert", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, shared_encoder, full=True, log=lambda _: None)
    monkeypatch.undo()
    orphan = calls[0]
    assert orphan != old_collection and orphan in backend.client.list_collections()
    assert backend.current_collection() == old_collection
    assert store.current_version(config.paths.index) == old_version
    assert comparable(engine.ask(question)) == before                    # still serving, same answer
    fresh = Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)
    assert fresh.index_version == old_version

    build_index(config, shared_encoder, full=True, log=lambda _: None)    # the next build cleans up
    assert orphan not in backend.client.list_collections()


def test_a_collection_from_another_model_is_refused(tmp_path, make_config, shared_encoder, milvus_settings):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt"])
    config = make_config(seeds, **milvus_settings)
    build_index(config, shared_encoder, log=lambda _: None)
    backend = backend_for(config)
    name = backend.current_collection()
    manifest = backend.collection_manifest(name)
    manifest["model"] = {**manifest["model"], "name": "some-other-model", "dimension": 768}
    backend.registry.put(f"manifest:{name}", json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="some-other-model"):
        Engine.open(config, encoder=shared_encoder, build_if_missing=False, log=lambda _: None)
    proc = cli("--seeds", seeds, "--index", config.paths.index, "ask", "anything", env=env_for(milvus_settings))
    assert "some-other-model" in one_error_line(proc)
    # an incremental build does not reuse it either: it writes a new collection
    build_index(config, shared_encoder, log=lambda _: None)
    assert backend.current_collection() != name


def test_a_bot_process_and_a_cli_process_share_one_milvus_on_loopback(tmp_path, make_config, shared_encoder,
                                                                      milvus_settings):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt", "004_23d3985e3772e314.txt",
                                            "004_23d3985e3772e314.meta.yaml"])
    config = make_config(seeds, **milvus_settings)
    bot = Engine.open(config, encoder=shared_encoder, log=lambda _: None)  # this process: the bot
    question = "How much did Facebook agree to pay over facial recognition in Illinois?"
    assert "$650" not in bot.ask(question).answer
    copy_seeds(seeds, ["001_8487601e0b76af03.txt", "001_8487601e0b76af03.meta.yaml"])
    env = env_for(milvus_settings)
    proc = cli("--seeds", seeds, "--index", config.paths.index, "index", env=env)       # another process
    assert proc.returncode == 0, proc.stderr
    assert "1 added" in proc.stdout or "2 added" in proc.stdout
    answer = bot.ask(question)                                           # the bot follows the new version
    assert "$650" in answer.answer and bot.index_version == store.current_version(config.paths.index)
    asked = cli("--seeds", seeds, "--index", config.paths.index, "ask", "--json", question, env=env)
    assert asked.returncode == 0, asked.stderr
    assert comparable(answer) == {k: v for k, v in json.loads(asked.stdout).items()
                                  if k not in ("timings_ms", "index_version")}


def test_bad_uri_and_down_server_give_one_clear_line(tmp_path, make_config, shared_encoder, milvus_settings):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt"])
    down = {**milvus_settings, "backend__uri": f"http://127.0.0.1:{free_port()}", "backend__timeout_seconds": 2}
    proc = cli("--seeds", seeds, "--index", tmp_path / "index", "index", env=env_for(down))
    assert "cannot open Milvus at http://127.0.0.1:" in one_error_line(proc)
    missing = {**milvus_settings, "backend__uri": str(tmp_path / "no" / "such" / "folder" / "m.db")}
    proc = cli("--seeds", seeds, "--index", tmp_path / "index", "index", env=env_for(missing))
    assert "does not exist" in one_error_line(proc)
    bad = {**milvus_settings, "backend__kind": "elastic"}
    assert "expected one of faiss, milvus" in one_error_line(
        cli("--seeds", seeds, "--index", tmp_path / "index", "ask", "x", env=env_for(bad)))


def test_when_milvus_stops_a_question_gets_one_clear_line_and_answers_resume_when_it_is_back(
        tmp_path, make_config, shared_encoder):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt", "004_23d3985e3772e314.txt"])
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = milvus_backend.serve_lite(tmp_path / "own.db", port)
    try:
        config = make_config(seeds, backend__kind="milvus", backend__uri=uri, backend__timeout_seconds=3)
        engine = Engine.open(config, encoder=shared_encoder, log=lambda _: None)
        question = "What does the complaint against the company allege?"
        before = comparable(engine.ask(question))
    finally:
        server.stop()
    for _ in range(2):  # every question while it is down: the same one line, no local fallback
        with pytest.raises(BackendUnavailable) as down:
            engine.ask(question)
        assert str(down.value) == f"the search service at {uri} is not answering; try again shortly"
    proc = cli("--seeds", seeds, "--index", config.paths.index, "ask", question,
               env=env_for({"backend__kind": "milvus", "backend__uri": uri, "backend__timeout_seconds": 2}))
    assert "cannot open Milvus at" in one_error_line(proc)

    server = milvus_backend.serve_lite(tmp_path / "own.db", port)   # back, on the same file and port
    try:
        assert comparable(engine.ask(question)) == before            # the same engine, nothing restarted
    finally:
        server.stop()


def test_a_local_lite_file_and_the_switch_from_faiss(tmp_path, repo_engine):
    """uri = a file: Milvus Lite embedded in the casebot process. Switching an existing FAISS index
    to Milvus publishes its vectors without embedding again; a second process on the same file is
    told how to share it."""
    index = tmp_path / "index"
    shutil.copytree(repo_engine.config.paths.index, index, symlinks=True)
    env = {"CASEBOT_BACKEND_KIND": "milvus", "CASEBOT_BACKEND_URI": str(tmp_path / "lite.db")}
    proc = cli("--seeds", REPO_SEEDS, "--index", index, "ask", "anything", env=env)
    assert "was published to the faiss backend" in one_error_line(proc)
    proc = cli("--seeds", REPO_SEEDS, "--index", index, "index", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "0 texts embedded" in proc.stdout
    question = "How much did Facebook agree to pay over facial recognition in Illinois?"
    proc = cli("--seeds", REPO_SEEDS, "--index", index, "ask", "--json", question, env=env)
    assert proc.returncode == 0, proc.stderr
    assert {k: v for k, v in json.loads(proc.stdout).items() if k not in ("timings_ms", "index_version")} == \
        comparable(repo_engine.ask(question))

    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")}
    server = subprocess.Popen([str(CASEBOT), "serve-milvus", "--port", str(port)], env={**clean, **EXTRACTIVE, **env},
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "serving" in server.stderr.readline()
        proc = cli("--seeds", REPO_SEEDS, "--index", index, "ask", question, env=env)   # the file is held
        assert "serve-milvus" in one_error_line(proc)
        shared = {**env, "CASEBOT_BACKEND_URI": f"http://127.0.0.1:{port}"}
        proc = cli("--seeds", REPO_SEEDS, "--index", index, "ask", "--json", question, env=shared)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["answer"] == repo_engine.ask(question).answer
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 130
