"""A busy server: the real `casebot bot` against the fake Discord on 127.0.0.1 (tests/fake_discord.py),
30 concurrent /ask interactions, then a mention; how long each waits for its answer.

    .venv/bin/python benchmarks/busy_bot.py [--asks 30] [--limit 120]

The answer stage is the configured default (CASEBOT_* variables change it, e.g.
CASEBOT_DECISION_WITH_JUDGE="" for the extractive policy). Bounded: every wait has --limit seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.fake_discord import BOT_ID, CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscordServer, message_payload, slash_payload  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "tests" / "data" / "questions_test.jsonl").read_text().splitlines()]
BOOT = """
import sys, discord, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
sys.exit(main(["bot"]))
"""


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--asks", type=int, default=30)
    ap.add_argument("--limit", type=float, default=120.0, help="longest wait for any answer, seconds")
    args = ap.parse_args()

    from embeddings.config import load_config
    from embeddings.engine import Engine

    work = Path(tempfile.mkdtemp(prefix="casebot-busy-"))
    config = load_config(paths__index=str(work / "index"), paths__database=str(work / "db.sqlite"),
                         paths__feedback=str(work / "feedback.jsonl"))
    Engine.open(config, log=lambda _: None)  # the index (and the judge's export) before the clock starts
    server = await FakeDiscordServer().start()
    env = {**os.environ, "DISCORD_TOKEN": TOKEN, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
           "CASEBOT_PATHS_INDEX": str(work / "index"), "CASEBOT_PATHS_DATABASE": str(work / "db.sqlite"),
           "CASEBOT_PATHS_FEEDBACK": str(work / "feedback.jsonl"), "CASEBOT_DISCORD_GUILD_ID": str(GUILD_ID),
           "CASEBOT_DISCORD_COOLDOWN_RATE": "1000"}
    with open(work / "stderr.txt", "wb") as err:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BOOT, server.api_base, server.gateway_url,
                                                    cwd=work, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
    try:
        await asyncio.wait_for(server.identified.wait(), timeout=args.limit)
        api = server.api
        t0 = time.perf_counter()
        payloads = [slash_payload("ask", {"question": QUESTIONS[i % len(QUESTIONS)]}, user_id=1000 + i)
                    for i in range(args.asks)]
        await asyncio.gather(*(server.dispatch("INTERACTION_CREATE", p) for p in payloads))
        mention = message_payload(f"<@{BOT_ID}> {QUESTIONS[0]}", author_id=2000)
        await server.dispatch("MESSAGE_CREATE", mention)

        async def answered(p) -> float | None:
            state = api.interaction(p)
            try:
                await api.wait_for(lambda: state.messages, timeout=args.limit)
                return time.perf_counter() - t0
            except (TimeoutError, asyncio.TimeoutError):
                return None

        def replied():
            return [r for r in api.find("POST", rf"/channels/{CHANNEL_ID}/messages")
                    if str((r.body.get("message_reference") or {}).get("message_id")) == mention["id"]]

        async def mention_answered() -> float | None:
            try:
                await api.wait_for(replied, timeout=args.limit)
                return time.perf_counter() - t0
            except (TimeoutError, asyncio.TimeoutError):
                return None

        times = await asyncio.gather(*(answered(p) for p in payloads), mention_answered())
        asks, mention_s = [t for t in times[:-1] if t is not None], times[-1]
        print(f"{len(asks)}/{args.asks} /asks answered within {args.limit:.0f} s; "
              f"p50 {sorted(asks)[len(asks) // 2] if asks else float('nan'):.1f} s, "
              f"last {max(asks) if asks else float('nan'):.1f} s; the mention after them: "
              f"{'%.1f s' % mention_s if mention_s is not None else 'not answered'}; api errors: {len(api.errors)}")
        return 0 if len(asks) == args.asks and mention_s is not None else 1
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await server.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
