"""The real console script, as a user runs it: ask, --json, stdin batch, index, and the error paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXTRACTIVE, copy_seeds

CASEBOT = Path(sys.executable).with_name("casebot")


def run(*args, stdin: str | None = None, timeout: float = 180, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")} | EXTRACTIVE
    env.update({f"CASEBOT_{k.upper()}": str(v) for k, v in settings.items()})
    return subprocess.run([str(CASEBOT), *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_clean_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("casebot:")]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One index built by `casebot index` in a fresh folder, reused by the tests below."""
    root = tmp_path_factory.mktemp("cli")
    seeds = copy_seeds(root / "seeds")
    index = root / "index"
    proc = run("--seeds", seeds, "--index", index, "index")
    assert proc.returncode == 0, proc.stderr
    assert "5 added" in proc.stdout and "0 removed" in proc.stdout
    return seeds, index


def test_ask_builds_the_index_on_first_use_and_prints_a_cited_answer(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds")
    proc = run("--seeds", seeds, "--index", tmp_path / "index", "ask",
               "How much did Facebook agree to pay over facial recognition in Illinois?")
    assert proc.returncode == 0, proc.stderr
    assert "no index yet" in proc.stderr and "building" in proc.stderr
    assert "$650" in proc.stdout and "[1]" in proc.stdout and "Sources:" in proc.stdout
    assert "agreed to pay $650 million" in " ".join(proc.stdout.split())  # the quote, wrapped


def test_ask_json_and_stdin_batch_follow_the_contract(built, tmp_path):
    seeds, index = built
    proc = run("--seeds", seeds, "--index", index, "ask", "--json", "Who is Clearview's lawyer quoted by BuzzFeed?")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["answered"] and "Wolosky" in out["answer"]
    assert out["citations"][0]["doc_id"] == "004_23d3985e3772e314"

    questions = ["Who is David Mutnick?", "What is the capital of Australia?", "", "Which company scanned OkCupid photos?"]
    proc = run("--seeds", seeds, "--index", index, "ask", "--json", "-", stdin="\n".join(questions) + "\n",
               paths_database=tmp_path / "casebot.db", paths_feedback=tmp_path / "feedback.jsonl")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["question"] for r in rows] == questions
    assert rows[0]["answered"] and not rows[1]["answered"] and rows[2]["error"] == "empty question"
    assert "Clarifai" in rows[3]["answer"]


def test_index_reports_changes_and_check_detects_drift(built, tmp_path):
    seeds, index = built
    seeds2 = tmp_path / "seeds"
    shutil.copytree(seeds, seeds2)
    idx2 = tmp_path / "index"
    shutil.copytree(index, idx2, symlinks=True)
    assert run("--seeds", seeds2, "--index", idx2, "index", "--check").returncode == 0
    (seeds2 / "005_new.md").write_text("---\ntitle: A new filing\noutlet: Test Wire\n---\n"
                                       "The court set a hearing for March 3 in the Mutnick case. Both sides agreed.\n")
    check = run("--seeds", seeds2, "--index", idx2, "index", "--check")
    assert check.returncode != 0 and "005_new.md" in check.stdout
    proc = run("--seeds", seeds2, "--index", idx2, "index")
    assert proc.returncode == 0, proc.stderr
    assert "1 added" in proc.stdout and "5 unchanged" in proc.stdout


def test_error_paths_end_in_one_line_and_nonzero_exit(built, tmp_path):
    seeds, index = built
    assert_clean_error(run("--seeds", tmp_path / "nope", "--index", tmp_path / "i", "ask", "anything"),
                       "seeds folder not found")
    assert_clean_error(run("--seeds", seeds, "--index", index, "ask", "   "), "empty")
    # a damaged index is refused with the command to run
    broken = tmp_path / "broken"
    shutil.copytree(index, broken, symlinks=True)
    faiss_file = next(broken.glob("versions/*/vectors.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    assert_clean_error(run("--seeds", seeds, "--index", broken, "ask", "Who is David Mutnick?"), "casebot index")
    # an index built with another model is refused
    other = tmp_path / "other"
    shutil.copytree(index, other, symlinks=True)
    manifest = next(other.glob("versions/*/manifest.json"))
    data = json.loads(manifest.read_text())
    data["model"]["name"] = "some-other-model"
    manifest.write_text(json.dumps(data))
    assert_clean_error(run("--seeds", seeds, "--index", other, "ask", "Who is David Mutnick?"),
                       "some-other-model", "casebot index --full")
    # a config file that is not TOML
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    assert_clean_error(run("--config", bad, "ask", "x"), "not valid TOML")


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    import select
    import time

    out = b""
    while marker not in out:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {out[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def test_interactive_mode_on_a_terminal_answers_until_ctrl_d(built, tmp_path):
    import pty
    import time

    seeds, index = built
    history = tmp_path / "history"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")} | EXTRACTIVE
    env["CASEBOT_HISTORY"] = str(history)
    env["CASEBOT_PATHS_DATABASE"] = str(tmp_path / "casebot.db")
    pid, fd = pty.fork()
    if pid == 0:  # the child: casebot on a real terminal, no question given
        os.execve(str(CASEBOT), [str(CASEBOT), "--seeds", str(seeds), "--index", str(index), "ask"], env)
    deadline = time.monotonic() + 120
    left = False
    try:
        _read_until(fd, b"casebot> ", deadline)
        os.write(fd, b"Which companies demanded that Clearview stop scraping their platforms?\n")
        reply = _read_until(fd, b"casebot> ", deadline).decode("utf-8", "replace")
        assert "Google" in reply and "[1]" in reply and "Sources:" in reply and "taken as" not in reply
        os.write(fd, b"When was that?\n")                  # a follow-up, read in the conversation's context
        reply = _read_until(fd, b"casebot> ", deadline).decode("utf-8", "replace")
        assert "(taken as: When was that? (" in reply and "Clearview" in reply
        assert "February" in reply and "[1]" in reply
        os.write(fd, b":new\n")
        assert b"new conversation" in _read_until(fd, b"casebot> ", deadline)
        os.write(fd, b"When was that?\n")                  # a new conversation: nothing to read it against
        reply = _read_until(fd, b"casebot> ", deadline).decode("utf-8", "replace")
        assert "taken as" not in reply
        os.write(fd, b"Who is Clearview's lawyer quoted by BuzzFeed?\n")
        reply = _read_until(fd, b"casebot> ", deadline).decode("utf-8", "replace")
        assert "Wolosky" in reply and "[1]" in reply
        os.write(fd, b"\x04")  # Ctrl-D leaves
        _read_until(fd, b"\n", deadline)
        left = True
    finally:
        if not left:                      # a failed check above: don't wait forever on the child
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "Wolosky" not in history.read_text() and "BuzzFeed" in history.read_text()  # the question is kept


def test_json_lines_carry_conversations_across_invocations(built, tmp_path):
    seeds, index = built
    settings = dict(paths_database=tmp_path / "casebot.db", paths_feedback=tmp_path / "feedback.jsonl")
    lines = [{"question": "Which companies demanded that Clearview stop scraping their platforms?", "conversation": "a"},
             {"question": "Who sued Clarifai over OkCupid photos?", "conversation": "b"},
             {"question": "When was that?", "conversation": "a"},
             {"question": "When was that?"}]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n" + '{"question": "x", "conversation": 5}\n'
    proc = run("--seeds", seeds, "--index", index, "ask", "--json", "-", stdin=stdin, **settings)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r.get("conversation") for r in rows[:4]] == ["a", "b", "a", None]
    assert "Google" in rows[0]["answer"] and rows[0]["standalone_question"] == lines[0]["question"]
    follow = rows[2]
    assert follow["question"] == "When was that?"
    assert follow["standalone_question"].startswith("When was that? (") and "Clearview" in follow["standalone_question"]
    assert "Clarifai" not in follow["standalone_question"]               # conversation b is another one
    assert "February" in follow["answer"] and follow["citations"][0]["doc_id"] == "004_23d3985e3772e314"
    assert rows[3]["standalone_question"] == "When was that?"            # no conversation: asked as it stands
    assert "not valid JSON" in rows[4]["error"] and "non-empty string" in rows[5]["error"]
    # a later process goes on with conversation a from the database
    again = run("--seeds", seeds, "--index", index, "ask", "--json", "-",
                stdin=json.dumps({"question": "Did Facebook do the same?", "conversation": "a"}) + "\n", **settings)
    (row,) = [json.loads(line) for line in again.stdout.splitlines()]
    assert "Clearview" in row["standalone_question"] and row["conversation"] == "a"


def test_a_damaged_database_is_refused_clearly_and_answers_keep_working(built, tmp_path):
    seeds, index = built
    db = tmp_path / "casebot.db"
    db.write_bytes(b"garbage, not SQLite\n" * 100)
    settings = dict(paths_database=db, paths_feedback=tmp_path / "feedback.jsonl")
    assert_clean_error(run("feedback", **settings), "not a readable casebot database", "move it aside")
    stdin = "\n".join(json.dumps({"question": q, "conversation": "a"}) for q in
                      ["Who is Clearview's lawyer quoted by BuzzFeed?", "What did he say about complying with laws?"])
    proc = run("--seeds", seeds, "--index", index, "ask", "--json", "-", stdin=stdin + "\n", **settings)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "not a readable casebot database" in proc.stderr and "answering without it" in proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert "Wolosky" in first["answer"] and "Clearview" in second["standalone_question"]   # remembered in memory
    assert db.read_bytes() == b"garbage, not SQLite\n" * 100


def test_eval_compares_the_stage_with_and_without_the_judge(built, tmp_path):
    seeds, index = built
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "f1", "question": "How much did Facebook agree to pay over facial recognition in Illinois?",
         "kind": "fact", "expect": [["$650 million"]], "sources": []},
        {"id": "o1", "question": "Who won the 2018 FIFA World Cup?", "kind": "out_of_scope", "expect": [], "sources": []},
    ]) + "\n")
    proc = run("--seeds", seeds, "--index", index, "eval", questions, "--judge", "on,off")
    assert proc.returncode == 0, proc.stderr
    summaries = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summaries) == {"judge + no reader", "no reader"}
    assert all(s["questions"] == 2 and s["unanswerable_declined"] == 1 for s in summaries.values())
    assert_clean_error(run("--seeds", seeds, "--index", index, "eval", questions, "--judge", "maybe"), "--judge")
