"""The ``casebot`` command: ask, index, sources, eval, feedback, bot.

Heavy modules are imported inside the commands that need them, so ``casebot --help`` and a
one-off question do not pay for imports they never use.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from embeddings.errors import CasebotError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _err(message: str) -> None:
    print(f"casebot: {message}", file=sys.stderr, flush=True)


def _log_to_stderr() -> None:
    """The engine's progress and notices (the "casebot" logger), one plain line each on stderr;
    other libraries' logging stays as they set it."""
    log = logging.getLogger("casebot")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _config(args, **overrides):
    from embeddings.config import load_config

    return load_config(args.config, paths__seeds=args.seeds, paths__index=args.index,
                       dask__scheduler=getattr(args, "dask", None), **overrides)


def _engine(args):
    from embeddings.engine import Engine

    return Engine.open(_config(args))


def cmd_ask(args) -> int:
    from bot.render_text import render_answer

    question = " ".join(args.question).strip()
    if question == "-":
        return _ask_batch(args)
    if not args.question:
        if sys.stdin.isatty():
            return _ask_interactive(args)
        _err("no question given; try: casebot ask \"What did the ACLU's settlement with Clearview require?\"")
        return EXIT_USAGE
    if not question:
        _err("the question is empty")
        return EXIT_USAGE
    answer = _engine(args).ask(question)
    print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else render_answer(answer))
    return 0


def _conversations(args, config):
    """The conversation store; a damaged database is reported once and answers go on (memory only)."""
    from bot.conversations import Conversations, open_database

    try:
        db = open_database(config)
    except CasebotError as exc:
        _err(f"{exc}; answering without it (follow-ups are remembered until this command ends)")
        db = None
    return Conversations(config, db)


def _batch_line(line: str) -> tuple[str, str | None]:
    """A stdin line: a plain question, or {"question": "...", "conversation": "some-id"}."""
    text = line.strip()
    if not text.startswith("{"):
        return text, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise ValueError('expected {"question": "...", "conversation": "some-id"}')
    conversation = data.get("conversation")
    if conversation is not None and (not isinstance(conversation, str) or not conversation.strip()):
        raise ValueError("conversation must be a non-empty string")
    return data["question"].strip(), conversation and f"cli:{conversation.strip()}"


def _ask_batch(args) -> int:
    """One question a line on stdin, one JSON object a line on stdout, in the same order."""
    from embeddings.errors import EmptyQuestion

    config = _config(args)
    engine = _engine(args)
    conversations = _conversations(args, config)
    for line in sys.stdin:
        try:
            question, conversation = _batch_line(line)
        except ValueError as exc:
            print(json.dumps({"input": line.strip(), "error": str(exc)}, ensure_ascii=False), flush=True)
            continue
        try:
            out = conversations.ask(engine, question, conversation, "cli").answer.to_json()
            if conversation:
                out["conversation"] = conversation[len("cli:"):]
        except EmptyQuestion:
            out = {"question": question, "error": "empty question"}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def _ask_interactive(args) -> int:
    import readline

    from bot.database import new_conversation_id
    from bot.render_text import render_answer

    history = Path(os.environ.get("CASEBOT_HISTORY", Path.home() / ".casebot_history"))
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    config = _config(args)
    engine = _engine(args)
    conversations = _conversations(args, config)
    conversation = f"cli:{new_conversation_id()}"
    print("Ask about the facial-recognition privacy cases; follow-up questions go on the same conversation.\n"
          "Type :new to start a new conversation, Ctrl-D to leave.", file=sys.stderr)
    try:
        while True:
            try:
                question = input("casebot> ").strip()
            except EOFError:
                print(file=sys.stderr)
                return 0
            except KeyboardInterrupt:
                print(file=sys.stderr)
                continue
            if not question:
                continue
            if question == ":new":
                conversation = f"cli:{new_conversation_id()}"
                print("(new conversation)", file=sys.stderr)
                continue
            if engine.reader is not None:  # a few seconds on a CPU: say so, then clear the line
                print("reading the sources…", end="", file=sys.stderr, flush=True)
            answer = conversations.ask(engine, question, conversation, "cli").answer
            if engine.reader is not None:
                print("\r\x1b[K", end="", file=sys.stderr, flush=True)
            if args.json:
                print(json.dumps(answer.to_json(), ensure_ascii=False))
            else:
                if answer.standalone_question and answer.standalone_question != answer.question:
                    print(f"(taken as: {answer.standalone_question})")
                print(render_answer(answer))
            print()
    finally:
        try:
            readline.write_history_file(history)
        except OSError:
            pass


def cmd_index(args) -> int:
    from embeddings.index.build import build_index
    from embeddings.index.check import check_index

    config = _config(args)
    if args.check:
        problems = check_index(config)
        for p in problems:
            print(f"- {p}")
        if problems:
            _err(f"index does not match the seeds ({len(problems)} problem(s)); run `casebot index`")
            return EXIT_ERROR
        print("index matches the seeds and its manifest")
        return 0
    report = build_index(config, full=args.full, progress=True)
    for name, reason in report.skipped.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(
        f"index {report.version}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{report.documents} documents, {report.chunks} passages "
        f"(+{report.chunks_added} / -{report.chunks_removed}), {report.encoded} texts embedded, "
        f"{report.seconds:.1f} s"
    )
    for dropped, kept in report.duplicates.items():
        print(f"duplicate: {dropped} is the same text as {kept}; indexed once", file=sys.stderr)
    return 0


def cmd_sources(args) -> int:
    from embeddings.engine import Engine

    engine = Engine.open(_config(args))
    for doc in engine.sources():
        bits = [doc.outlet or "?", doc.published or "undated", doc.title]
        print(f"{doc.key}\t" + " · ".join(bits))
    return 0


def cmd_eval(args) -> int:
    from embeddings.engine import Engine
    from embeddings.errors import ConfigError
    from embeddings.evaluation import evaluate, load_questions, table

    items = load_questions(Path(args.file))
    readers = [r for spec in (args.reader or [None]) for r in (spec.split(",") if spec else [None])]
    judges = [j.strip() for spec in args.judge for j in spec.split(",")] if args.judge else [None]
    if set(judges) - {"on", "off", None}:
        raise ConfigError("--judge takes on, off or on,off")
    summaries, encoder = {}, None
    for judge in judges:
        for reader in readers:
            config = _config(args, reader__backend=reader, decision__with_judge={"on": "judge", "off": ""}.get(judge))
            engine = Engine.open(config, encoder=encoder)
            encoder = engine.encoder
            summary = evaluate(engine, items, Path(config.paths.seeds))
            name = ("judge + " if engine.judge is not None else "") + (engine.reader.name if engine.reader else "no reader")
            summaries[name] = {k: v for k, v in summary.items() if k != "rows"}
            for row in summary["rows"]:
                if not row["right"] or args.verbose:
                    print(f"[{name}] {'ok ' if row['right'] else 'BAD'} {row['id']}: {row['question']}\n    {row['why']}")
            del engine
    print(table(summaries))
    print(json.dumps(summaries))
    return 0


def cmd_setup_reader(args) -> int:
    from embeddings.models.reader_model import KNOWN_MODELS, install, spec_for

    config = _config(args)
    path = Path(config.reader.llama.model)
    spec = KNOWN_MODELS.get(args.model) if args.model else spec_for(path)
    if spec is None:
        _err(f"{path.name} is not a model casebot knows how to fetch ({', '.join(KNOWN_MODELS)}); "
             "point [reader.llama] model at a GGUF you have, with its sha256")
        return EXIT_USAGE
    if args.model:
        path = path.with_name(spec.file_name)
    install(spec, path, lambda line: print(line, file=sys.stderr, flush=True))
    print(path)
    return 0


def cmd_feedback(args) -> int:
    from bot.conversations import open_database
    from bot.feedback import feedback_summary

    print(feedback_summary(open_database(_config(args))))
    return 0


def cmd_serve_milvus(args) -> int:
    from embeddings.index.milvus_backend import serve_lite, wait_lite

    uri = _config(args).backend.uri
    if not uri or "://" in uri:
        _err("serve-milvus shares a Milvus Lite file: set [backend] uri to a file path (CASEBOT_BACKEND_URI)")
        return EXIT_USAGE
    server = serve_lite(Path(uri), args.port)
    print(f"serving {uri} on 127.0.0.1:{args.port}; point the bot and the CLI at it with "
          f"CASEBOT_BACKEND_URI=http://127.0.0.1:{args.port} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        code = wait_lite(server)
    finally:
        server.stop()
    if code:
        _err(f"Milvus Lite stopped with status {code}")
        return EXIT_ERROR
    return 0


def cmd_bot(args) -> int:
    from bot.discord_bot import read_token, run_bot

    token = read_token(os.environ, Path.cwd() / ".env")
    if not token:
        _err("DISCORD_TOKEN is not set (export it, or put DISCORD_TOKEN=... in a .env file)")
        return EXIT_USAGE
    return run_bot(_config(args), token, sync_global=args.sync_global)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casebot",
        description="Answers questions about the facial-recognition privacy cases from the seed documents, with citations.",
    )
    parser.add_argument("--seeds", help="seeds folder (default from config: seeds/)")
    parser.add_argument("--index", help="index folder (default from config: .casebot/index)")
    parser.add_argument("--config", help="a TOML file overriding config/default.toml")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer a question (no question on a terminal: interactive; '-': one per stdin line)")
    ask.add_argument("question", nargs="*", help="the question, or - to read one question a line from stdin")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (the contract in README.md, \"The JSON answer\")")
    ask.set_defaults(func=cmd_ask)

    index = sub.add_parser("index", help="build the index, or bring it up to date with the seeds folder")
    index.add_argument("--full", action="store_true", help="rebuild from scratch, re-embedding everything")
    index.add_argument("--check", action="store_true", help="verify the index against the seeds; non-zero exit if they disagree")
    index.add_argument("--dask", metavar="ADDRESS", help="embed on a Dask cluster (scheduler address, e.g. tcp://host:8786)")
    index.set_defaults(func=cmd_index)

    sources = sub.add_parser("sources", help="list the documents in the index")
    sources.set_defaults(func=cmd_sources)

    ev = sub.add_parser("eval", help="score the engine on a question file (tests/data/dev.jsonl format)")
    ev.add_argument("file")
    ev.add_argument("-v", "--verbose", action="store_true", help="show every question, not only wrong ones")
    ev.add_argument("--reader", action="append", metavar="BACKEND",
                    help="llama, openai or none (repeat, or separate with commas, to compare side by side)")
    ev.add_argument("--judge", action="append", metavar="ON/OFF",
                    help="on or off: with or without the answer judge (default: as configured); on,off compares them")
    ev.set_defaults(func=cmd_eval)

    setup_reader = sub.add_parser("setup-reader", help="download, assemble and check the reader model (scripts/setup runs it)")
    setup_reader.add_argument("--model", help="a known model to fetch instead of the configured one: "
                                              "qwen2.5-coder-1.5b or qwen2.5-coder-0.5b")
    setup_reader.set_defaults(func=cmd_setup_reader)

    feedback = sub.add_parser("feedback", help="summarise the 👍/👎 votes from Discord")
    feedback.set_defaults(func=cmd_feedback)

    serve = sub.add_parser("serve-milvus", help="share the Milvus Lite file of [backend] uri on loopback (bot + CLI)")
    serve.add_argument("--port", type=int, default=19530, help="port on 127.0.0.1 (default 19530)")
    serve.set_defaults(func=cmd_serve_milvus)

    bot = sub.add_parser("bot", help="run the Discord bot (needs DISCORD_TOKEN)")
    bot.add_argument("--sync-global", action="store_true", help="sync slash commands globally (slow to propagate)")
    bot.set_defaults(func=cmd_bot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    try:
        return args.func(args)
    except CasebotError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: one line, and the traceback on request
        if os.environ.get("CASEBOT_DEBUG"):
            raise
        _err(f"internal error: {exc.__class__.__name__}: {exc} (set CASEBOT_DEBUG=1 for the traceback)")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
