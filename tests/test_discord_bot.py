"""The bot in process: real discord.py code paths and the real engine, Discord faked at the HTTP layer.

Requests are recorded at ``HTTPClient.request`` and ``AsyncWebhookAdapter.request`` (tests/fake_discord.py),
and gateway events are real payloads fed to ``client._connection.parsers``, as the gateway code does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
import pytest_asyncio

from bot.conversations import open_database
from bot.discord_render import citation_field
from bot.discord_bot import GENERIC_ERROR, CaseBot, _RedactingFormatter, read_token
from bot.feedback import feedback_summary, hash_user, user_key
from embeddings.config import load_config
from tests.conftest import EXTRACTIVE
from embeddings.errors import SeedsNotFound
from tests.fake_discord import (
    BOT_ID,
    BOT_ROLE_ID,
    CHANNEL_ID,
    EVERYDAY_PERMISSIONS,
    GUILD_ID,
    MANAGE_GUILD,
    OTHER_CHANNEL_ID,
    TOKEN,
    FakeDiscordAPI,
    button_payload,
    guild_create_payload,
    install_recorder,
    message_payload,
    modal_submit_payload,
    ready_payload,
    slash_payload,
)

ROOT = Path(__file__).resolve().parent.parent
CHICAGO = "Why did Chicago police stop using Clearview?"
VOTE_ID = re.compile(r"casebot:vote:(up|down):[0-9a-f]{16}")
EPHEMERAL = 64
_users = itertools.count(int(time.time() * 1000) % 10**9 * 1000)   # a fresh user per use: no shared cooldowns


def new_user() -> int:
    return next(_users)


class Harness:
    def __init__(self, bot: CaseBot, api: FakeDiscordAPI):
        self.bot, self.api = bot, api

    def feed(self, event: str, payload: dict) -> dict:
        if event == "INTERACTION_CREATE":
            self.api.track(payload)
        self.bot._connection.parsers[event](payload)
        return payload

    def slash(self, name: str, options: dict | None = None, user_id: int | None = None,
              permissions: int = EVERYDAY_PERMISSIONS, guild: bool = True, channel: dict | None = None) -> dict:
        return self.feed("INTERACTION_CREATE", slash_payload(name, options, user_id or new_user(), permissions, guild,
                                                             channel))

    def click(self, message: dict, custom_id: str, user_id: int | None = None) -> dict:
        return self.feed("INTERACTION_CREATE", button_payload(message, custom_id, user_id or new_user()))

    def mention(self, content: str, author_id: int | None = None, **kw) -> dict:
        """MESSAGE_CREATE of a message mentioning the bot (``channel_id``: e.g. a thread)."""
        return self.feed("MESSAGE_CREATE", message_payload(content, author_id or new_user(), **kw))

    async def messages(self, payload: dict, n: int = 1, timeout: float = 30) -> list[dict]:
        """The first ``n`` messages the interaction produced, once they exist."""
        state = self.api.interaction(payload)
        await self.api.wait_for(lambda: len(state.messages) >= n, timeout)
        return state.messages

    async def replies_to(self, message: dict, n: int = 1, timeout: float = 30) -> list:
        def found():
            hits = [r for r in self.api.find("POST", r"/channels/\d+/messages")
                    if str((r.body.get("message_reference") or {}).get("message_id")) == message["id"]]
            return hits if len(hits) >= n else None

        return await self.api.wait_for(found, timeout)

    async def settle(self) -> None:
        """Wait until every event discord.py dispatched so far has been handled to the end."""
        prefixes = ("CommandTree-invoker", "discord.py: ", "discord-ui-view-dispatch", "discord-ui-modal-dispatch")
        while True:
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
                       and t.get_name().startswith(prefixes)]
            if not pending:
                return
            await asyncio.wait(pending, timeout=60)

    def callbacks(self, payload: dict) -> list:
        return self.api.find("POST", rf"/interactions/{payload['id']}/{payload['token']}/callback")

    def followups(self, payload: dict) -> list:
        return self.api.find("POST", rf"/webhooks/\d+/{payload['token']}")


@pytest_asyncio.fixture
async def start_bot(repo_engine, tmp_path, monkeypatch):
    """``await start_bot(engine=..., **config_overrides)``: a logged-in bot that has seen READY + GUILD_CREATE."""
    api = FakeDiscordAPI()
    install_recorder(monkeypatch, api)
    stack = contextlib.AsyncExitStack()

    async def start(engine=repo_engine, **overrides) -> Harness:
        sync_global = overrides.pop("sync_global", False)
        db = overrides.pop("db", "open")
        settings = dict(discord__guild_id=GUILD_ID, discord__cooldown_rate=100, discord__cooldown_seconds=60,
                        paths__feedback=str(tmp_path / "feedback.jsonl"), paths__database=str(tmp_path / "casebot.db"),
                        paths__index=str(engine.config.paths.index), paths__seeds=str(engine.config.paths.seeds))
        settings.update(overrides)
        config = load_config(env=EXTRACTIVE, **settings)
        bot = CaseBot(config=config, engine=engine, db=open_database(config) if db == "open" else db,
                      sync_global=sync_global, guild_ready_timeout=0)
        await stack.enter_async_context(bot)
        await bot.login(TOKEN)
        harness = Harness(bot, api)
        harness.feed("READY", ready_payload())
        harness.feed("GUILD_CREATE", guild_create_payload())
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        return harness

    yield start
    await stack.aclose()
    assert [(r.method, r.path, r.status, r.response) for r in api.errors] == [], "Discord rejected a request"


# ---------------------------------------------------------------------------------------------------
# Startup


async def test_login_syncs_commands_to_the_configured_guild_only(start_bot):
    h = await start_bot()
    synced = h.api.commands[str(GUILD_ID)]
    assert "global" not in h.api.commands
    by_name = {c["name"]: c for c in synced}
    assert set(by_name) == {"ask", "sources", "reindex", "listen"}
    assert by_name["ask"]["options"][0] == {"type": 3, "name": "question", "required": True, "min_length": 1,
                                            "max_length": 1000, "description": by_name["ask"]["options"][0]["description"]}
    assert int(by_name["reindex"]["default_member_permissions"]) == MANAGE_GUILD
    assert int(by_name["listen"]["default_member_permissions"]) == MANAGE_GUILD
    assert h.bot.intents.message_content is False
    assert h.bot.get_cog("casebot").prune.is_running()                 # retention applied daily while running
    assert h.bot.allowed_mentions.to_dict() == {"parse": []}
    # READY again (a reconnect) must not sync again: commands are synced in setup_hook only
    puts = len(h.api.find("PUT", r".*/commands"))
    h.feed("READY", ready_payload())
    h.feed("GUILD_CREATE", guild_create_payload())
    await asyncio.wait_for(h.bot.wait_until_ready(), 5)
    assert len(h.api.find("PUT", r".*/commands")) == puts == 1


async def test_no_sync_without_guild_and_global_sync_only_when_asked(start_bot):
    quiet = await start_bot(discord__guild_id=0)
    assert quiet.api.find("PUT", r".*/commands") == []
    loud = await start_bot(discord__guild_id=0, sync_global=True)
    assert [r.path for r in loud.api.find("PUT", r".*/commands")] == ["/applications/700000000000000001/commands"]


# ---------------------------------------------------------------------------------------------------
# /ask


async def test_ask_defers_at_once_then_answers_with_citations(start_bot, repo_engine):
    h = await start_bot()
    p = h.slash("ask", {"question": CHICAGO})
    (message,) = await h.messages(p)
    (defer,) = h.callbacks(p)
    assert defer.body == {"type": 5}                                   # "thinking…", public
    assert defer.at - h.api.interaction(p).created < 1.0
    (followup,) = h.followups(p)
    assert followup.body["allowed_mentions"] == {"parse": []}
    (embed,) = followup.body["embeds"]
    expected = repo_engine.ask(CHICAGO)
    assert embed["description"] == expected.answer                      # the engine's answer, markers included
    assert "[1]" in embed["description"] and "Chicago Police Department stopped using" in embed["description"]
    first = expected.citations[0]
    assert embed["fields"][0]["name"] == f"[1] {first.outlet} · {first.published}"
    assert f"]({first.url})" in embed["fields"][0]["value"]
    assert expected.index_version in embed["footer"]["text"] and "Not legal advice" in embed["footer"]["text"]
    buttons = followup.body["components"][0]["components"]
    assert [b["emoji"]["name"] for b in buttons] == ["👍", "👎"]
    assert all(VOTE_ID.fullmatch(b["custom_id"]) for b in buttons)
    assert message["flags"] & EPHEMERAL == 0                           # everyone in the channel sees it
    # the answer opens a thread named after the question; the thread is the conversation
    (thread,) = await h.api.wait_for(lambda: h.api.find("POST", rf"/channels/{CHANNEL_ID}/messages/{message['id']}/threads"))
    assert thread.status == 201 and thread.body["name"] == CHICAGO
    answer_id = buttons[0]["custom_id"].rsplit(":", 1)[1]
    await h.settle()
    record = h.bot.db.find_turn(answer_id)
    assert record.question == CHICAGO and record.chunk_ids == [c.chunk_id for c in expected.citations]
    assert record.conversation_id == f"discord:{message['id']}" and record.surface == "slash"


async def test_a_slow_answer_still_arrives_because_the_defer_came_first(start_bot, repo_engine, monkeypatch):
    h = await start_bot()
    real_ask = repo_engine.ask

    def slow(question):
        h.api.skew += 10.0                     # ten seconds pass while the engine works
        return real_ask(question)

    monkeypatch.setattr(repo_engine, "ask", slow)
    p = h.slash("ask", {"question": CHICAGO})
    (message,) = await h.messages(p)
    assert h.callbacks(p)[0].status == 200 and message["embeds"]
    assert h.followups(p)[0].at - h.api.interaction(p).created >= 10


async def test_declined_question_lists_the_nearest_sources(start_bot):
    h = await start_bot()
    p = h.slash("ask", {"question": "How do I bake banana bread?"})
    (message,) = await h.messages(p)
    (embed,) = message["embeds"]
    assert "don't cover" in embed["description"]
    assert len(embed["fields"]) == 5 and embed["fields"][0]["name"].startswith("1. ")


async def test_empty_question_gets_a_private_hint(start_bot):
    h = await start_bot()
    p = h.slash("ask", {"question": "   "})
    await h.api.wait_for(lambda: h.followups(p))
    assert h.api.find("DELETE", rf"/webhooks/\d+/{p['token']}/messages/@original")   # "thinking…" removed
    (shown,) = h.api.visible_messages(p)
    assert shown["content"] == "Please type a question." and shown["flags"] & EPHEMERAL


async def test_fifty_questions_in_flight_are_all_answered_without_blocking_the_loop(start_bot):
    h = await start_bot()
    lag = 0.0
    stop = asyncio.Event()

    async def ticker():
        nonlocal lag
        while not stop.is_set():
            t0 = asyncio.get_running_loop().time()
            await asyncio.sleep(0.005)
            lag = max(lag, asyncio.get_running_loop().time() - t0 - 0.005)

    tick = asyncio.create_task(ticker())
    questions = [CHICAGO, "Who sued Clearview AI in California?", "What did Clearview agree to on May 9?",
                 "What is the Biometric Information Privacy Act?", "Is facial recognition legal in Europe?"]
    payloads = [h.slash("ask", {"question": f"{questions[i % 5]} ({i})"}) for i in range(50)]
    await h.api.wait_for(lambda: all(len(h.followups(p)) == 1 for p in payloads), timeout=60)
    stop.set()
    await tick
    late = [round(h.callbacks(p)[0].at - h.api.interaction(p).created, 2) for p in payloads]
    assert max(late) < 3, f"first responses after {sorted(late)[-5:]} s (lag {lag:.2f} s)"
    for p in payloads:
        (defer,) = h.callbacks(p)
        assert defer.status == 200 and defer.body == {"type": 5}
        assert h.followups(p)[0].body["embeds"][0]["footer"]["text"].startswith("casebot · index")
    assert lag < 1.0, f"the event loop stalled for {lag:.2f} s"


async def test_cooldown_on_ask_is_private_and_shared_with_mentions(start_bot):
    h = await start_bot(discord__cooldown_rate=2, discord__cooldown_seconds=60)
    user = new_user()
    first = [h.slash("ask", {"question": CHICAGO}, user_id=user) for _ in range(2)]
    for p in first:
        await h.messages(p)
    third = h.slash("ask", {"question": CHICAGO}, user_id=user)
    (msg,) = await h.messages(third)
    (callback,) = h.callbacks(third)
    assert callback.body["type"] == 4 and callback.body["data"]["flags"] == EPHEMERAL
    assert re.fullmatch(r"You're asking too fast: try again in \d+ s\.", callback.body["data"]["content"])
    # another user is not affected
    other = h.slash("ask", {"question": CHICAGO})
    (answered,) = await h.messages(other)
    assert answered["embeds"]
    # a mention by the limited user gets a short reply instead of an answer
    m = h.mention(f"<@{BOT_ID}> {CHICAGO}", author_id=user)
    (reply,) = await h.replies_to(m)
    assert reply.body["content"].startswith("You're asking too fast") and not reply.body.get("embeds")


# ---------------------------------------------------------------------------------------------------
# Mentions


@pytest.mark.parametrize("form", ["<@{id}>", "<@!{id}>", "<@&{role}>"])
async def test_mention_is_answered_in_a_reply_without_the_mention(start_bot, form):
    h = await start_bot()
    mention = form.format(id=BOT_ID, role=BOT_ROLE_ID)
    m = h.mention(f"{mention} {CHICAGO}", role_mention="&" in form, mention_bot="&" not in form)
    (reply,) = await h.replies_to(m)
    body = reply.body
    assert body["message_reference"]["message_id"] == int(m["id"])
    assert body["allowed_mentions"] == {"parse": [], "replied_user": False}
    (embed,) = body["embeds"]
    assert embed["title"] == f"Q: {CHICAGO}"                           # mention stripped
    assert "[1]" in embed["description"]
    assert all(VOTE_ID.fullmatch(b["custom_id"]) for b in body["components"][0]["components"])
    assert h.api.find("POST", rf"/channels/{CHANNEL_ID}/typing")


async def test_a_direct_message_needs_no_mention(start_bot):
    h = await start_bot()
    m = h.mention(CHICAGO, mention_bot=False, guild=False)
    (reply,) = await h.replies_to(m)
    assert reply.body["embeds"][0]["title"] == f"Q: {CHICAGO}"


async def test_messages_not_addressed_to_the_bot_are_ignored(start_bot):
    h = await start_bot()
    h.mention(f"just chatting about {CHICAGO}", mention_bot=False)
    bot_msg = message_payload(f"<@{BOT_ID}> {CHICAGO}", author_id=new_user())
    bot_msg["author"]["bot"] = True                                     # other bots never trigger answers
    h.feed("MESSAGE_CREATE", bot_msg)
    empty = h.mention(f"<@{BOT_ID}>")
    (help_reply,) = await h.replies_to(empty)
    assert "Ask me a question" in help_reply.body["content"]
    assert len(h.api.find("POST", rf"/channels/{CHANNEL_ID}/messages")) == 1


async def test_a_failure_while_answering_a_mention_is_reported_and_logged(start_bot, repo_engine, monkeypatch, caplog):
    h = await start_bot()

    def broken(question):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(repo_engine, "ask", broken)
    m = h.mention(f"<@{BOT_ID}> {CHICAGO}")
    (reply,) = await h.replies_to(m)
    assert reply.body["content"] == GENERIC_ERROR
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)


# ---------------------------------------------------------------------------------------------------
# Votes


async def test_votes_are_stored_thanked_privately_and_survive_a_restart(start_bot):
    h = await start_bot()
    p = h.slash("ask", {"question": CHICAGO})
    (message,) = await h.messages(p)
    up, down = (b["custom_id"] for b in message["components"][0]["components"])
    voter = new_user()

    async def click(harness, custom_id, user):
        payload = harness.click(message, custom_id, user)
        (callback,) = await harness.api.wait_for(lambda: harness.callbacks(payload))
        return callback.body

    async def vote(harness, custom_id, user):
        body = await click(harness, custom_id, user)
        assert body["type"] == 4 and body["data"]["flags"] == EPHEMERAL
        return body["data"]["content"]

    assert await vote(h, up, voter) == "Thanks for the feedback 👍"
    assert "already voted" in await vote(h, up, voter)
    # 👎 is stored at once and opens the optional "what was wrong?" modal
    modal = await click(h, down, voter)
    assert modal["type"] == 9 and modal["data"]["title"] == "What was wrong? (optional)"
    (text_input,) = [c for row in modal["data"]["components"] for c in row.get("components", [row.get("component")])]
    assert text_input["required"] is False and text_input["style"] == 2
    submit = h.feed("INTERACTION_CREATE", modal_submit_payload(modal["data"], {text_input["custom_id"]:
                                                                              "It quotes the wrong city"}, voter, message))
    (thanks,) = await h.api.wait_for(lambda: h.callbacks(submit))
    assert thanks.body["data"]["content"] == "Thanks, your 👎 and your note are saved."
    assert thanks.body["data"]["flags"] == EPHEMERAL
    votes = h.bot.db.votes()
    assert [v["vote"] for v in votes] == ["up", "down"] and votes[1]["note"] == "It quotes the wrong city"
    assert votes[0]["question"] == CHICAGO and votes[0]["chunk_ids"] and votes[0]["index_version"]
    key = user_key(Path(h.bot.config.paths.feedback))
    assert votes[0]["user"] == hash_user(voter, key) != hashlib.sha256(str(voter).encode()).hexdigest()
    assert all(str(voter).encode() not in f.read_bytes() for f in Path(h.bot.config.paths.database).parent.glob("casebot.db*"))
    # a 👎 whose modal is closed without a note is still a vote
    closer = new_user()
    assert (await click(h, down, closer))["type"] == 9
    assert h.bot.db.votes()[-1]["vote"] == "down" and h.bot.db.votes()[-1]["note"] is None

    # A new process: a fresh client and database handle (nothing in memory) still handles the old buttons.
    restarted = await start_bot()
    assert "Thanks" in await vote(restarted, up, new_user())
    assert "3 votes (1 👍, 2 👎)" in feedback_summary(restarted.bot.db)    # the latest vote of each user
    assert "what was wrong: It quotes the wrong city" in feedback_summary(restarted.bot.db)


async def test_vote_on_an_unknown_answer_says_so(start_bot):
    h = await start_bot()
    p = h.slash("ask", {"question": CHICAGO})
    (message,) = await h.messages(p)
    forged = "casebot:vote:up:" + "f" * 16
    message["components"][0]["components"][0]["custom_id"] = forged
    click = h.click(message, forged)
    (callback,) = await h.api.wait_for(lambda: h.callbacks(click))
    assert "no longer have a record" in callback.body["data"]["content"]


# ---------------------------------------------------------------------------------------------------
# /sources


async def test_sources_are_paginated_with_buttons(start_bot, repo_engine):
    h = await start_bot()
    total = len(repo_engine.sources())
    assert total > 10, "the repo's seeds should need two pages"
    p = h.slash("sources")
    (msg,) = await h.messages(p)
    (callback,) = h.callbacks(p)
    assert callback.body["data"]["flags"] == EPHEMERAL
    (embed,) = msg["embeds"]
    assert embed["title"] == f"Sources ({total} documents) · page 1/2"
    assert embed["description"].count("\n") == 9
    prev, nxt = msg["components"][0]["components"]
    assert prev["disabled"] and not nxt["disabled"]
    click = h.click(msg, nxt["custom_id"])
    (update,) = await h.api.wait_for(lambda: h.callbacks(click))
    assert update.body["type"] == 7                                     # the same message is edited
    assert update.body["data"]["embeds"][0]["title"].endswith("page 2/2")
    assert update.body["data"]["embeds"][0]["description"].startswith("**11.**")
    direct = h.slash("sources", {"page": 2})
    (msg2,) = await h.messages(direct)
    assert msg2["embeds"][0]["title"].endswith("page 2/2")


# ---------------------------------------------------------------------------------------------------
# /reindex


async def test_reindex_needs_manage_server(start_bot, repo_engine, monkeypatch):
    h = await start_bot()
    monkeypatch.setattr(repo_engine, "reindex", lambda full=False: pytest.fail("reindex must not run"))
    p = h.slash("reindex", permissions=EVERYDAY_PERMISSIONS)
    (msg,) = await h.messages(p)
    (callback,) = h.callbacks(p)
    assert callback.body["type"] == 4 and callback.body["data"]["flags"] == EPHEMERAL
    assert "Manage Server" in msg["content"]


def _seeds_copy(tmp_path: Path) -> Path:
    """A private seeds folder with the one seed that answers CHICAGO (a small index builds fast)."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in (ROOT / "seeds").glob("003_*"):
        shutil.copy(path, seeds / path.name)
    return seeds


async def test_reindex_swaps_in_new_documents_while_ask_keeps_answering(start_bot, make_engine, tmp_path):
    seeds = _seeds_copy(tmp_path)
    engine = make_engine(seeds)
    old_version = engine.index_version
    h = await start_bot(engine=engine)
    (seeds / "005_acme_settlement.md").write_text(
        "# Acme Face Corp settles biometric privacy suit\n\n"
        "Acme Face Corp agreed to pay 7 million dollars to settle an Illinois BIPA class action over its "
        "zebra-stripe face scanner. The settlement was approved by a Cook County judge in 2023.\n",
        encoding="utf-8",
    )
    gate = threading.Event()
    real_reindex = engine.reindex

    def gated_reindex(full=False):
        assert gate.wait(30)
        return real_reindex(full)

    engine.reindex = gated_reindex                     # hold the rebuild open to ask during it
    admin = h.slash("reindex", permissions=EVERYDAY_PERMISSIONS | MANAGE_GUILD)
    await h.api.wait_for(lambda: h.callbacks(admin))
    assert h.callbacks(admin)[0].body == {"type": 5, "data": {"flags": EPHEMERAL}}
    second = h.slash("reindex", permissions=EVERYDAY_PERMISSIONS | MANAGE_GUILD)
    (busy,) = await h.messages(second)
    assert "already running" in busy["content"]

    during = h.slash("ask", {"question": CHICAGO})
    (answer_during,) = await h.messages(during)
    assert old_version in answer_during["embeds"][0]["footer"]["text"]
    assert not h.followups(admin)                      # the rebuild is still running

    gate.set()
    (report,) = await h.messages(admin, timeout=60)
    embed = report["embeds"][0]
    assert embed["title"] == "Index rebuilt" and "005\\_acme\\_settlement.md" in embed["description"]
    assert "1 added" in embed["description"] and report["flags"] & EPHEMERAL
    assert engine.index_version != old_version

    after = h.slash("ask", {"question": "How much did Acme Face Corp pay to settle the BIPA class action?"})
    (answer_after,) = await h.messages(after)
    assert "7 million dollars" in answer_after["embeds"][0]["description"]
    assert engine.index_version in answer_after["embeds"][0]["footer"]["text"]


async def test_failed_reindex_says_why_and_the_old_index_keeps_serving(start_bot, make_engine, tmp_path):
    seeds = _seeds_copy(tmp_path)
    engine = make_engine(seeds)
    version = engine.index_version
    h = await start_bot(engine=engine)
    shutil.rmtree(seeds)                               # the seeds folder vanished
    with pytest.raises(SeedsNotFound):                 # what the engine itself says
        engine.reindex()
    admin = h.slash("reindex", permissions=MANAGE_GUILD)
    (report,) = await h.messages(admin, timeout=60)
    embed = report["embeds"][0]
    assert embed["title"] == "Reindex failed" and "still serving" in embed["description"]
    assert version in embed["description"]
    assert engine.index_version == version
    ask = h.slash("ask", {"question": CHICAGO})
    (answer,) = await h.messages(ask)
    assert "[1]" in answer["embeds"][0]["description"]


# ---------------------------------------------------------------------------------------------------
# Errors


async def test_an_exception_in_a_command_is_private_logged_and_the_bot_keeps_going(start_bot, repo_engine,
                                                                                     monkeypatch, caplog):
    h = await start_bot()
    real_ask = repo_engine.ask

    def flaky(question):
        if "explode" in question:
            raise RuntimeError("index shard melted")
        return real_ask(question)

    monkeypatch.setattr(repo_engine, "ask", flaky)
    with caplog.at_level(logging.ERROR, logger="casebot.discord"):
        boom = h.slash("ask", {"question": "please explode"})
        await h.api.wait_for(lambda: h.followups(boom))
    (shown,) = h.api.visible_messages(boom)
    assert shown["content"] == GENERIC_ERROR and shown["flags"] & EPHEMERAL
    assert "index shard melted" not in json.dumps(h.followups(boom)[0].body)
    assert any(r.exc_info and "index shard melted" in str(r.exc_info[1]) for r in caplog.records)
    ok = h.slash("ask", {"question": CHICAGO})
    (answer,) = await h.messages(ok)
    assert "[1]" in answer["embeds"][0]["description"]


async def test_reindex_in_a_dm_is_refused(start_bot):
    h = await start_bot()
    p = h.slash("reindex", permissions=MANAGE_GUILD, guild=False)
    (msg,) = await h.messages(p)
    assert "only works in a server" in msg["content"] and msg["flags"] & EPHEMERAL


# ---------------------------------------------------------------------------------------------------
# Token


def test_read_token_from_env_then_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('DISCORD_TOKEN="from-dotenv"\n')
    assert read_token({"DISCORD_TOKEN": " from-env "}, dotenv) == "from-env"
    assert read_token({}, dotenv) == "from-dotenv"
    assert read_token({"DISCORD_TOKEN": "Bot abc"}, None) == "abc"
    assert read_token({}, tmp_path / "missing.env") is None
    assert read_token({"DISCORD_TOKEN": ""}, None) is None


def test_the_token_is_redacted_from_log_lines_and_tracebacks():
    formatter = _RedactingFormatter(["sekrit.token.value"])
    try:
        raise RuntimeError("auth with sekrit.token.value failed")
    except RuntimeError:
        import sys

        record = logging.LogRecord("discord.http", logging.ERROR, __file__, 1, "sent %s", ("sekrit.token.value",),
                                   sys.exc_info())
    text = formatter.format(record)
    assert "sekrit.token.value" not in text and text.count("[redacted]") >= 2


# ---------------------------------------------------------------------------------------------------
# Conversations in threads

SETTLEMENT = "Which companies demanded that Clearview stop scraping their platforms?"


def footer(body: dict) -> str:
    return body["embeds"][-1]["footer"]["text"]


def cited_docs(body: dict) -> list[str]:
    return [f["name"] for f in body["embeds"][0]["fields"]]


async def test_a_thread_holds_the_conversation_by_mention_reply_and_slash(start_bot, repo_engine):
    h = await start_bot()
    first = h.slash("ask", {"question": SETTLEMENT})
    (answer,) = await h.messages(first)
    assert "Google" in answer["embeds"][0]["description"]
    await h.settle()
    thread_id = int(answer["id"])                          # the thread opened on the answer has its id
    h.feed("THREAD_CREATE", dict(h.api.threads[answer["id"]], newly_created=True))

    # a follow-up by mention in the thread: read in the thread's context, answered in the thread
    m = h.mention(f"<@{BOT_ID}> When was that?", channel_id=thread_id)
    (reply,) = await h.replies_to(m)
    assert reply.path == f"/channels/{thread_id}/messages"
    assert (m["id"], "👀") in h.api.reactions
    searched = footer(reply.body).split("\n")[0]
    assert searched.startswith("Searched as: When was that? (") and "Clearview" in searched
    assert "February" in reply.body["embeds"][0]["description"] and "[1]" in reply.body["embeds"][0]["description"]
    expected = repo_engine.ask(searched[len("Searched as: "):])      # the answer is the standalone question's
    assert reply.body["embeds"][0]["description"] == expected.answer
    assert cited_docs(reply.body) == [citation_field(c).name for c in expected.citations]
    assert not h.api.find("POST", rf"/channels/{thread_id}/messages/\d+/threads")      # no thread in a thread

    # a follow-up by reply (pinging the bot, no mention typed): the same conversation
    bot_message = h.api.messages[str(reply.response["id"])]
    r = h.feed("MESSAGE_CREATE", message_payload("Did Facebook do the same?", new_user(), channel_id=thread_id,
                                                 reply_to=bot_message))
    (reply2,) = await h.replies_to(r)
    searched2 = footer(reply2.body).split("\n")[0]
    assert "Facebook" in searched2 and "Clearview" in searched2
    assert reply2.body["embeds"][0]["fields"], "every answer keeps its sources"

    # a change of subject in the thread is searched as it stands
    new_subject = "What is Clarifai accused of doing with OKCupid photos?"
    t = h.mention(f"<@{BOT_ID}> {new_subject}", channel_id=thread_id)
    (reply3,) = await h.replies_to(t)
    assert footer(reply3.body).startswith("casebot · index")                # nothing was added to the question
    assert "OKCupid" in reply3.body["embeds"][0]["description"]
    assert any("Cook County Record" in f for f in cited_docs(reply3.body))

    # /ask inside the thread stays in it and goes on with the new subject
    inside = h.slash("ask", {"question": "Which state's law did it allegedly break?"},
                     channel=h.api.threads[answer["id"]])
    (in_thread,) = await h.messages(inside)
    assert in_thread["channel_id"] == str(thread_id)
    assert "Clarifai" in in_thread["embeds"][0]["footer"]["text"]
    await h.settle()
    assert len(h.api.find("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    turns = h.bot.db.turns(f"discord:{thread_id}", 10)
    assert [t.surface for t in turns] == ["slash", "thread", "thread", "thread", "slash"]


async def test_a_thread_survives_a_restart_even_unseen_by_discord_py(start_bot):
    h = await start_bot()
    first = h.slash("ask", {"question": SETTLEMENT})
    (answer,) = await h.messages(first)
    await h.settle()
    restarted = await start_bot()                       # a new process: no THREAD_CREATE, nothing in memory
    m = restarted.mention(f"<@{BOT_ID}> When was that?", channel_id=int(answer["id"]))
    (reply,) = await restarted.replies_to(m)
    assert "Clearview" in footer(reply.body).split("\n")[0]


async def test_a_reply_to_an_answer_in_the_channel_continues_its_conversation(start_bot):
    h = await start_bot()
    m = h.mention(f"<@{BOT_ID}> {SETTLEMENT}")
    (reply,) = await h.replies_to(m)
    await h.settle()
    # the mention's answer opened a thread too; a reply to the answer in the channel continues it
    assert h.api.find("POST", rf"/channels/{CHANNEL_ID}/messages/{reply.response['id']}/threads")
    r = h.feed("MESSAGE_CREATE", message_payload("When was that?", new_user(), reply_to=reply.response))
    (reply2,) = await h.replies_to(r)
    assert "Clearview" in footer(reply2.body).split("\n")[0]
    # a reply that does not ping the bot carries no content without the Message Content intent: ignored
    h.feed("MESSAGE_CREATE", message_payload("", new_user(), mention_bot=False, reply_to=reply.response))
    await h.settle()
    assert len(h.api.find("POST", rf"/channels/{CHANNEL_ID}/messages")) == 2


# ---------------------------------------------------------------------------------------------------
# Where mentions are answered


async def test_admins_choose_the_channels_where_mentions_are_answered(start_bot):
    h = await start_bot()
    refused = h.slash("listen", {"where": "add"}, permissions=EVERYDAY_PERMISSIONS)
    (msg,) = await h.messages(refused)
    assert "Manage Server" in msg["content"]
    admin = h.slash("listen", {"where": "add"}, permissions=EVERYDAY_PERMISSIONS | MANAGE_GUILD)
    (msg,) = await h.messages(admin)
    assert f"only in <#{CHANNEL_ID}>" in msg["content"] and msg["flags"] & EPHEMERAL

    elsewhere = h.mention(f"<@{BOT_ID}> {CHICAGO}", channel_id=OTHER_CHANNEL_ID)
    here = h.mention(f"<@{BOT_ID}> {CHICAGO}")
    (reply,) = await h.replies_to(here)
    await h.settle()
    assert not h.api.find("POST", rf"/channels/{OTHER_CHANNEL_ID}/messages")
    assert (elsewhere["id"], "👀") not in h.api.reactions and (here["id"], "👀") in h.api.reactions

    restarted = await start_bot()                       # stored: survives a restart
    again = restarted.mention(f"<@{BOT_ID}> {CHICAGO}", channel_id=OTHER_CHANNEL_ID)
    await restarted.settle()
    assert not restarted.api.find("POST", rf"/channels/{OTHER_CHANNEL_ID}/messages")
    # the answer threads in the chosen channel still take follow-ups
    thread = restarted.mention(f"<@{BOT_ID}> Why?", channel_id=int(reply.response["id"]))
    (in_thread,) = await restarted.replies_to(thread)
    assert in_thread.path == f"/channels/{reply.response['id']}/messages"
    reset = restarted.slash("listen", {"where": "everywhere"}, permissions=MANAGE_GUILD)
    (msg,) = await restarted.messages(reset)
    assert "every channel" in msg["content"]
    now_heard = restarted.mention(f"<@{BOT_ID}> {CHICAGO}", channel_id=OTHER_CHANNEL_ID)
    await restarted.replies_to(now_heard)
    assert again["id"] != now_heard["id"]


async def test_a_damaged_database_leaves_answers_working(start_bot, tmp_path):
    h = await start_bot(db=None)                         # what run_bot does when the file is refused
    p = h.slash("ask", {"question": SETTLEMENT})
    (answer,) = await h.messages(p)
    assert "[1]" in answer["embeds"][0]["description"]
    await h.settle()
    m = h.mention(f"<@{BOT_ID}> When was that?", channel_id=int(answer["id"]))
    (reply,) = await h.replies_to(m)
    assert "Clearview" in footer(reply.body).split("\n")[0]          # remembered in memory meanwhile
    up = answer["components"][0]["components"][0]["custom_id"]
    click = h.click(answer, up)
    (callback,) = await h.api.wait_for(lambda: h.callbacks(click))
    assert "can't be saved" in callback.body["data"]["content"]
