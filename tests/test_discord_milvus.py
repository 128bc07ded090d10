"""The real ``casebot bot`` process in Milvus mode, against the fake Discord of tests/fake_discord.py and
a Milvus Lite served on loopback: when Milvus stops, a question gets one clear line and the bot keeps
running; when Milvus is back, answers resume without a restart."""

from __future__ import annotations

import asyncio
import shutil

import pytest
import pytest_asyncio

from embeddings.config import load_config
from embeddings.index.build import build_index
from tests.conftest import EXTRACTIVE, REPO_SEEDS
from tests.fake_discord import GUILD_ID, TOKEN, FakeDiscordServer, slash_payload
from tests.test_discord_e2e import CHICAGO, STARTUP_TIMEOUT, bot_env, spawn
from tests.test_milvus_backend import free_port

milvus_backend = pytest.importorskip("embeddings.index.milvus_backend")
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server():
    fake = await FakeDiscordServer().start()
    yield fake
    await fake.stop()


async def ask(server, question: str, user_id: int) -> dict:
    payload = slash_payload("ask", {"question": question}, user_id=user_id)
    await server.dispatch("INTERACTION_CREATE", payload)
    state = server.api.interaction(payload)
    await server.api.wait_for(lambda: state.messages, timeout=90)
    return state.messages[0]


async def test_the_bot_says_when_milvus_is_down_and_answers_again_when_it_is_back(
        server, repo_engine, shared_encoder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("milvus-bot")
    index = folder / "index"
    shutil.copytree(repo_engine.config.paths.index, index, symlinks=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    milvus = milvus_backend.serve_lite(folder / "milvus.db", port)
    settings = {"backend__kind": "milvus", "backend__uri": uri, "backend__timeout_seconds": 3}
    build_index(load_config(env=EXTRACTIVE, paths__seeds=str(REPO_SEEDS), paths__index=str(index), **settings),
                shared_encoder, log=lambda _: None)
    env = bot_env(server, TOKEN, CASEBOT_PATHS_INDEX=str(index), CASEBOT_PATHS_SEEDS=str(REPO_SEEDS),
                  CASEBOT_DISCORD_GUILD_ID=str(GUILD_ID), CASEBOT_DISCORD_COOLDOWN_RATE="100",
                  CASEBOT_BACKEND_KIND="milvus", CASEBOT_BACKEND_URI=uri, CASEBOT_BACKEND_TIMEOUT_SECONDS="3")
    bot = await spawn(folder / "bot", env, server)
    try:
        identified = asyncio.ensure_future(server.identified.wait())
        exited = asyncio.ensure_future(bot.proc.wait())
        await asyncio.wait({identified, exited}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        assert identified.done(), f"the bot never connected:\n{bot.stderr[-3000:]}"
        exited.cancel()

        first = await ask(server, CHICAGO, 601)
        assert "Chicago Police Department stopped using" in first["embeds"][0]["description"]

        milvus.stop()
        down = await ask(server, CHICAGO, 602)
        assert down["content"] == "The search service isn't answering right now; try again shortly."
        assert bot.proc.returncode is None                              # still running

        milvus = milvus_backend.serve_lite(folder / "milvus.db", port)  # back, same file and port
        again = await ask(server, CHICAGO, 603)
        assert again["embeds"][0]["description"] == first["embeds"][0]["description"]
        assert "not answering" in bot.stderr and "answering again" in bot.stderr
        assert server.api.errors == []
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        milvus.stop()
