"""The real ``casebot bot`` process against a fake Discord on 127.0.0.1 (REST + gateway over real sockets).

One bot process serves every check in this module (it loads the model once); it is stopped with SIGTERM
by the last test. The index is the session's repo index, so the process only loads it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import discord
import pytest
import pytest_asyncio
import yarl

from bot import discord_bot
from embeddings.config import load_config
from tests.conftest import EXTRACTIVE

from tests.fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    TOKEN,
    FakeDiscordServer,
    button_payload,
    message_payload,
    slash_payload,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHICAGO = "Why did Chicago police stop using Clearview?"
MESSAGE_CONTENT_INTENT = 1 << 15
STARTUP_TIMEOUT = 120


# The real `casebot bot` entry point, with discord.py pointed at the fake by the test, not by casebot:
# production code has no switch for another Discord.
BOOT = """
import sys, discord, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
sys.exit(main(["bot"]))
"""


def casebot_command(server: FakeDiscordServer) -> list[str]:
    return [sys.executable, "-c", BOOT, server.api_base, server.gateway_url]


def bot_env(server: FakeDiscordServer, token: str | None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_") and k != "DISCORD_TOKEN"} | EXTRACTIVE
    env.update({"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    if token is not None:
        env["DISCORD_TOKEN"] = token
    env.update(extra)
    return env


class BotProcess:
    def __init__(self, proc: asyncio.subprocess.Process, folder: Path):
        self.proc, self.folder = proc, folder

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr.txt").read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout.txt").read_text(errors="replace")


async def spawn(folder: Path, env: dict, server: FakeDiscordServer) -> BotProcess:
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(env)
    env.setdefault("CASEBOT_PATHS_DATABASE", str(folder / "casebot.db"))    # never the project's own
    env.setdefault("CASEBOT_PATHS_FEEDBACK", str(folder / "feedback.jsonl"))
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        # cwd is an empty folder, so no developer's .env is read
        proc = await asyncio.create_subprocess_exec(*casebot_command(server), cwd=folder, env=env,
                                                    stdout=out, stderr=err, stdin=asyncio.subprocess.DEVNULL)
    return BotProcess(proc, folder)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server():
    fake = await FakeDiscordServer().start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(server, repo_engine, tmp_path_factory):
    """A running ``casebot bot`` that has identified on the fake gateway."""
    folder = tmp_path_factory.mktemp("bot")
    env = bot_env(server, TOKEN,
                  CASEBOT_PATHS_INDEX=str(repo_engine.config.paths.index),
                  CASEBOT_PATHS_SEEDS=str(repo_engine.config.paths.seeds),
                  CASEBOT_PATHS_FEEDBACK=str(folder / "feedback.jsonl"),
                  CASEBOT_PATHS_DATABASE=str(folder / "casebot.db"),
                  CASEBOT_DISCORD_GUILD_ID=str(GUILD_ID),
                  CASEBOT_DISCORD_COOLDOWN_RATE="100")
    bot = await spawn(folder, env, server)
    identified = asyncio.ensure_future(server.identified.wait())
    exited = asyncio.ensure_future(bot.proc.wait())
    await asyncio.wait({identified, exited}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if not identified.done():
        identified.cancel()
        if bot.proc.returncode is None:
            bot.proc.kill()
        await bot.proc.wait()
        pytest.fail(f"the bot never connected (exit {bot.proc.returncode}):\n{bot.stderr[-3000:]}")
    yield bot
    if bot.proc.returncode is None:
        bot.proc.kill()
        await bot.proc.wait()
    exited.cancel()


async def test_logs_in_syncs_to_the_guild_and_asks_for_no_privileged_intent(live, server):
    api = server.api
    assert api.find("GET", "/users/@me")[0].status == 200
    assert {c["name"] for c in api.commands[str(GUILD_ID)]} == {"ask", "sources", "reindex", "listen"}
    assert "global" not in api.commands
    assert server.intents & MESSAGE_CONTENT_INTENT == 0


async def test_ask_is_deferred_within_the_deadline_and_answered(live, server):
    api = server.api
    payload = slash_payload("ask", {"question": CHICAGO}, user_id=501)
    await server.dispatch("INTERACTION_CREATE", payload)
    state = api.interaction(payload)
    await api.wait_for(lambda: state.messages, timeout=60)
    assert state.response_type == 5
    defer = api.find("POST", rf"/interactions/{payload['id']}/.*/callback")[0]
    assert defer.status == 200 and defer.at - state.created < 3
    (message,) = state.messages
    (embed,) = message["embeds"]
    assert "Chicago Police Department stopped using" in embed["description"] and "[1]" in embed["description"]
    assert embed["fields"][0]["name"].startswith("[1] Chicago Sun-Times")
    assert "Not legal advice" in embed["footer"]["text"]
    # the 👍 button works over the wire too: the vote is thanked privately
    up = message["components"][0]["components"][0]["custom_id"]
    click = button_payload(message, up, user_id=502)
    await server.dispatch("INTERACTION_CREATE", click)
    vote = api.interaction(click)
    await api.wait_for(lambda: vote.messages, timeout=30)
    assert vote.response_type == 4 and vote.response_flags == 64
    assert "Thanks" in vote.messages[0]["content"]
    with sqlite3.connect(live.folder / "casebot.db") as db:
        assert db.execute("SELECT vote, question FROM votes").fetchall() == [("up", CHICAGO)]
    assert api.errors == []


async def test_mention_is_answered_with_a_reply(live, server):
    api = server.api
    msg = message_payload(f"<@{BOT_ID}> {CHICAGO}", author_id=503)
    await server.dispatch("MESSAGE_CREATE", msg)

    def reply():
        return [r for r in api.find("POST", rf"/channels/{CHANNEL_ID}/messages")
                if str((r.body.get("message_reference") or {}).get("message_id")) == msg["id"]]

    (sent,) = await api.wait_for(reply, timeout=60)
    assert sent.status == 200
    assert sent.body["embeds"][0]["title"] == f"Q: {CHICAGO}"
    assert sent.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert api.errors == []


def replies_to(api, message: dict) -> list:
    return [r for r in api.find("POST", r"/channels/\d+/messages")
            if str((r.body.get("message_reference") or {}).get("message_id")) == message["id"]]


async def test_a_thread_conversation_over_the_wire(live, server):
    """/ask opens a thread; a mention and a reply in it are follow-ups; a new subject is asked as it stands."""
    api = server.api
    first = slash_payload("ask", {"question": "Which companies demanded that Clearview stop scraping their platforms?"},
                          user_id=511)
    await server.dispatch("INTERACTION_CREATE", first)
    state = api.interaction(first)
    await api.wait_for(lambda: state.messages and api.threads.get(state.messages[0]["id"]), timeout=60)
    answer = state.messages[0]
    assert "Google" in answer["embeds"][0]["description"] and answer["embeds"][0]["fields"]
    thread = api.threads[answer["id"]]
    assert thread["name"].startswith("Which companies demanded")
    await server.dispatch("THREAD_CREATE", dict(thread, newly_created=True))      # as Discord announces it

    mention = message_payload(f"<@{BOT_ID}> When was that?", author_id=512, channel_id=int(thread["id"]))
    await server.dispatch("MESSAGE_CREATE", mention)
    (followup,) = await api.wait_for(lambda: replies_to(api, mention), timeout=60)
    assert followup.path == f"/channels/{thread['id']}/messages"
    embed = followup.body["embeds"][0]
    assert "February" in embed["description"] and embed["fields"][0]["name"].startswith("[1] SiliconANGLE")
    assert embed["footer"]["text"].startswith("Searched as: When was that? (") and "Clearview" in embed["footer"]["text"]
    assert (mention["id"], "👀") in api.reactions

    by_reply = message_payload("Did Facebook do the same?", author_id=513, channel_id=int(thread["id"]),
                               reply_to=api.messages[str(followup.response["id"])])
    await server.dispatch("MESSAGE_CREATE", by_reply)
    (second,) = await api.wait_for(lambda: replies_to(api, by_reply), timeout=60)
    footer = second.body["embeds"][0]["footer"]["text"]
    assert "Facebook" in footer and "Clearview" in footer and second.body["embeds"][0]["fields"]

    change = message_payload(f"<@{BOT_ID}> What is Clarifai accused of doing with OKCupid photos?", author_id=514,
                             channel_id=int(thread["id"]))
    await server.dispatch("MESSAGE_CREATE", change)
    (third,) = await api.wait_for(lambda: replies_to(api, change), timeout=60)
    embed = third.body["embeds"][0]
    assert embed["footer"]["text"].startswith("casebot · index") and "OKCupid" in embed["description"]
    assert any(f["name"].startswith("[1] Cook County Record") for f in embed["fields"])
    assert api.errors == []


async def test_the_fake_enforces_the_deadline_and_the_limits(server):
    """What Discord would do to a slow or oversized bot (checked here against the fake itself)."""
    api = server.api
    late = api.track(slash_payload("ask", {"question": "late"}, user_id=504))
    api.interaction(late).created -= 3.5
    ok = api.track(slash_payload("ask", {"question": "big"}, user_id=505))
    base = server.api_base
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/interactions/{late['id']}/{late['token']}/callback", json={"type": 5}) as r:
            assert r.status == 404 and (await r.json())["code"] == 10062
        async with http.post(f"{base}/interactions/{ok['id']}/{ok['token']}/callback", json={"type": 5}) as r:
            assert r.status == 200
        too_big = {"embeds": [{"description": "x" * 4097}]}
        async with http.post(f"{base}/webhooks/1/{ok['token']}", json=too_big) as r:
            body = await r.json()
            assert r.status == 400 and body["code"] == 50035 and "embeds.0.description" in body["errors"]
        over_total = {"embeds": [{"description": "x" * 4000, "fields": [{"name": "n", "value": "v" * 1024}] * 2}]}
        async with http.post(f"{base}/webhooks/1/{ok['token']}", json=over_total) as r:
            assert r.status == 400 and (await r.json())["code"] == 50035
    api.errors.clear()


async def test_a_rejected_token_exits_2_with_one_clear_line(server, tmp_path):
    bad = "not-the-token.abc.def"
    proc = await spawn(tmp_path / "bad", bot_env(server, bad), server)
    assert await asyncio.wait_for(proc.proc.wait(), 60) == 2
    assert "Discord rejected the token in DISCORD_TOKEN" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and bad not in proc.stderr + proc.stdout
    server.api.errors.clear()                          # the 401 was the point


async def test_a_missing_token_exits_2(server, tmp_path):
    proc = await spawn(tmp_path / "none", bot_env(server, None), server)
    assert await asyncio.wait_for(proc.proc.wait(), 60) == 2
    assert "DISCORD_TOKEN is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_sigterm_shuts_the_bot_down_cleanly(live, server):
    live.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(live.proc.wait(), 30) == 0
    err = live.stderr
    assert "shutting down" in err
    assert "Traceback" not in err
    assert TOKEN not in err + live.stdout
    await asyncio.wait_for(server.disconnected.wait(), 10)          # it closed its gateway socket
    assert not server.sockets


async def test_ctrl_c_shuts_down_cleanly(server, repo_engine, monkeypatch, tmp_path):
    """Ctrl-C (SIGINT) in the serving loop, in this process: the loaded engine stands in for a model load."""
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    monkeypatch.setattr(discord_bot, "_open_engine", lambda config: repo_engine)
    config = load_config(env=EXTRACTIVE, paths__feedback=str(tmp_path / "feedback.jsonl"),
                         paths__database=str(tmp_path / "casebot.db"), discord__guild_id=0)
    server.identified.clear()
    server.disconnected.clear()
    serving = asyncio.ensure_future(discord_bot._serve(config, TOKEN, sync_global=False))
    await asyncio.wait_for(server.identified.wait(), 30)
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(serving, 15) == 0
    await asyncio.wait_for(server.disconnected.wait(), 10)
