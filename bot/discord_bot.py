"""The Discord surface of casebot: /ask, @mentions, /sources, /reindex and 👍/👎 feedback.

The client owns its command tree and receives its dependencies (config, engine, feedback store) in the
constructor. All engine work runs in threads (``asyncio.to_thread``) so the event loop keeps answering
heartbeats and other users while a question is embedded or the index rebuilds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import discord
import yarl
from discord import app_commands

from bot import discord_render as render
from bot.feedback import AnswerRecord, FeedbackStore, UnknownAnswer, new_answer_id
from embeddings.config import Config
from embeddings.errors import (
    CasebotError,
    EmptyQuestion,
    IndexCorrupt,
    IndexLocked,
    IndexMismatch,
    IndexMissing,
    ModelUnavailable,
)
from embeddings.results import Answer

log = logging.getLogger("casebot.discord")

# Where discord.py connects; tests point these at a fake Discord on 127.0.0.1.
ENV_API_BASE = "CASEBOT_DISCORD_API_BASE"
ENV_GATEWAY = "CASEBOT_DISCORD_GATEWAY"
TOKEN_VAR = "DISCORD_TOKEN"

EXIT_OK, EXIT_ERROR, EXIT_TOKEN = 0, 1, 2

QUESTION_MAX = 1000
# Questions embedded at once. More threads than cores only slow each other down and starve the event
# loop of the GIL; the rest wait (already deferred, so Discord's 3 s deadline is met).
ASK_CONCURRENCY = max(2, min(4, os.cpu_count() or 2))
MENTION_HELP = "Ask me a question after the mention, e.g. `@casebot Who sued Clearview AI in Illinois?`"
GENERIC_ERROR = "Sorry, something went wrong on my side; the error has been logged. Please try again."


# ---------------------------------------------------------------------------------------------------
# Cooldowns


class UserCooldowns:
    """``rate`` requests per ``per`` seconds per user, shared by /ask and mentions.

    Kept on the client (not in a decorator) so two bots in one process never share buckets.
    """

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic):
        self.rate = max(1, int(rate))
        self.per = float(per)
        self._clock = clock
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def hit(self, user_id: int) -> float | None:
        """Count one request; the seconds to wait when over the limit, else None."""
        if self.per <= 0:
            return None
        now = self._clock()
        if len(self._buckets) > 10_000:          # forget idle users
            self._buckets = {k: b for k, b in self._buckets.items() if now - b._window < self.per}
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = app_commands.Cooldown(self.rate, self.per)
        return bucket.update_rate_limit(now)

    def cooldown(self) -> app_commands.Cooldown:
        return app_commands.Cooldown(self.rate, self.per)


def wait_text(retry_after: float) -> str:
    return f"You're asking too fast: try again in {max(1, math.ceil(retry_after))} s."


# ---------------------------------------------------------------------------------------------------
# Persistent components: the answer id and the page live in the custom ids, so they work after a restart.


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"casebot:vote:(?P<vote>up|down):(?P<aid>[0-9a-f]{16})"):
    def __init__(self, vote: str, answer_id: str):
        self.vote = vote
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if vote == "up" else "👎",
                custom_id=f"casebot:vote:{vote}:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /):
        return cls(match["vote"], match["aid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.handle_vote(interaction, self.answer_id, self.vote)
        except Exception as exc:          # discord.py would only log it; the user deserves a reply
            await interaction.client.report_error(interaction, exc)


class VoteView(discord.ui.View):
    """👍 / 👎 under an answer; persistent (no timeout, custom ids derived from the answer id)."""

    REGISTRATION_ID = "0" * 16

    def __init__(self, answer_id: str):
        super().__init__(timeout=None)
        self.add_item(VoteButton("up", answer_id))
        self.add_item(VoteButton("down", answer_id))


class SourcesPageButton(discord.ui.DynamicItem[discord.ui.Button], template=r"casebot:sources:(?P<dir>prev|next):(?P<page>\d{1,5})"):
    def __init__(self, direction: str, page: int, disabled: bool = False):
        self.direction = direction
        self.page = page
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label="◀ Previous" if direction == "prev" else "Next ▶",
                custom_id=f"casebot:sources:{direction}:{page}",
                disabled=disabled,
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /):
        return cls(match["dir"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.show_sources_page(interaction, self.page, edit=True)
        except Exception as exc:
            await interaction.client.report_error(interaction, exc)


class SourcesView(discord.ui.View):
    def __init__(self, page: int, pages: int):
        super().__init__(timeout=None)
        self.add_item(SourcesPageButton("prev", max(0, page - 1), disabled=page <= 0))
        self.add_item(SourcesPageButton("next", min(pages - 1, page + 1), disabled=page >= pages - 1))


# ---------------------------------------------------------------------------------------------------
# The client


class CaseTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.client.report_error(interaction, error)


_MARKUP = re.compile(r"@(?:everyone|here)\b|<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>")


def clean_question(text: str) -> str:
    """Mentions, channel links and custom emoji are Discord markup, not words of the question."""
    return " ".join(_MARKUP.sub(" ", text).split())


def user_message(error: BaseException) -> str:
    """What a Discord user reads for an engine error (details stay in the operator's log)."""
    if isinstance(error, EmptyQuestion):
        return "Please type a question."
    if isinstance(error, IndexMissing):
        return "No index has been built yet; someone with Manage Server can run /reindex."
    if isinstance(error, (IndexCorrupt, IndexMismatch)):
        return "The document index can't be read right now; someone with Manage Server can run /reindex."
    if isinstance(error, IndexLocked):
        return "The index is being rebuilt; try again in a moment."
    if isinstance(error, ModelUnavailable):
        return "The language model isn't available on the server right now."
    return GENERIC_ERROR


class CaseBot(discord.Client):
    """casebot on Discord. ``engine`` may be set after login (``run_bot`` loads the model meanwhile)."""

    def __init__(self, *, config: Config, engine=None, feedback: FeedbackStore | None = None,
                 sync_global: bool = False, **options: Any):
        intents = discord.Intents.default()
        intents.message_content = False        # privileged; mentions and DMs carry content without it
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(intents=intents, **options)
        self.config = config
        self.engine = engine
        self.feedback = feedback or FeedbackStore(config.paths.feedback)
        self.sync_global = sync_global
        self.tree = CaseTree(self)
        self.cooldowns = UserCooldowns(config.discord.cooldown_rate, config.discord.cooldown_seconds)
        self.reindex_lock = asyncio.Lock()
        self.ask_slots = asyncio.Semaphore(ASK_CONCURRENCY)
        for command in build_commands(self):
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        # Registering the view's dynamic items makes buttons on old messages work after a restart.
        self.add_view(VoteView(VoteView.REGISTRATION_ID))
        self.add_dynamic_items(SourcesPageButton)
        guild_id = self.config.discord.guild_id
        try:
            if guild_id:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                commands = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(commands), guild_id)
            if self.sync_global:
                commands = await self.tree.sync()
                log.info("synced %d commands globally (may take up to an hour to appear)", len(commands))
        except discord.HTTPException as exc:
            # e.g. the bot is not in that guild or lacks the applications.commands scope: keep running.
            log.error("could not sync slash commands (%s); existing registrations stay in effect", exc)
        if not guild_id and not self.sync_global:
            log.info("slash commands not synced (set discord.guild_id, or run `casebot bot --sync-global`)")

    async def on_ready(self) -> None:
        log.info("logged in as %s (id %s) in %d guilds", self.user, self.user.id if self.user else "?",
                 len(self.guilds))

    # -- answering ------------------------------------------------------------------------------------

    async def ask_engine(self, question: str) -> Answer:
        if self.engine is None:
            raise IndexMissing("the engine is still loading")
        async with self.ask_slots:
            return await asyncio.to_thread(self.engine.ask, clean_question(question))

    async def record(self, answer: Answer, surface: str) -> str:
        answer_id = new_answer_id()
        record = AnswerRecord.from_answer(answer_id, answer, surface)
        try:
            await asyncio.to_thread(self.feedback.record_answer, record)
        except OSError:
            # Feedback is a nicety: an unwritable file must not stop the answer.
            log.exception("could not record answer %s for feedback", answer_id)
        return answer_id

    async def answer_interaction(self, interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        answer = await self.ask_engine(question)
        answer_id = await self.record(answer, "slash")
        messages = render.pack_messages(render.render_answer(answer))
        for i, embeds in enumerate(messages):
            last = i == len(messages) - 1
            await interaction.followup.send(embeds=embeds, view=VoteView(answer_id) if last else discord.utils.MISSING,
                                            wait=True)
            interaction.extras["answered"] = True

    def question_from_message(self, message: discord.Message) -> str | None:
        """The question in a message addressed to the bot (mention or DM), mentions removed; else None."""
        if self.user is None or message.author.bot or message.author.id == self.user.id:
            return None
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None
        content = message.content or ""
        me = self.user.id
        patterns = [rf"<@!?{me}>"]
        guild = message.guild
        role = guild.self_role if guild is not None else None
        if role is not None:
            patterns.append(rf"<@&{role.id}>")
        addressed = guild is None or any(re.search(p, content) for p in patterns)
        if not addressed:
            return None
        text = re.sub("|".join(patterns), " ", content)
        return " ".join(text.split())

    async def on_message(self, message: discord.Message) -> None:
        question = self.question_from_message(message)
        if question is None:
            return
        try:
            retry = self.cooldowns.hit(message.author.id)
            if retry is not None:
                await self._reply(message, content=wait_text(retry), delete_after=min(retry, 30))
                return
            if not question:
                await self._reply(message, content=MENTION_HELP)
                return
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()  # one typing indicator, shown until the reply arrives
            answer = await self.ask_engine(question[:QUESTION_MAX])
            answer_id = await self.record(answer, "mention")
            messages = render.pack_messages(render.render_answer(answer))
            for i, embeds in enumerate(messages):
                view = VoteView(answer_id) if i == len(messages) - 1 else None
                await self._reply(message, embeds=embeds, view=view)
        except discord.Forbidden:
            log.warning("no permission to reply in channel %s", message.channel.id)
        except Exception as exc:
            if not isinstance(exc, CasebotError):
                log.error("answering message %s failed", message.id, exc_info=exc)
            with contextlib.suppress(discord.HTTPException):
                await self._reply(message, content=user_message(exc))

    async def _reply(self, message: discord.Message, **kwargs: Any) -> discord.Message:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        reference = message.to_reference(fail_if_not_exists=False)
        return await message.channel.send(reference=reference, mention_author=False, **kwargs)

    # -- votes and sources ----------------------------------------------------------------------------

    async def handle_vote(self, interaction: discord.Interaction, answer_id: str, vote: str) -> None:
        def store() -> tuple[str | None, bool]:
            previous = self.feedback.previous_vote(answer_id, interaction.user.id)
            if previous == vote:
                return previous, False
            self.feedback.add_vote(answer_id, vote, interaction.user.id)
            return previous, True

        emoji = "👍" if vote == "up" else "👎"
        try:
            previous, stored = await asyncio.to_thread(store)
        except UnknownAnswer:
            text = "Sorry, I no longer have a record of that answer, so the vote wasn't saved."
        except Exception as exc:
            log.error("storing a vote on answer %s failed", answer_id, exc_info=exc)
            text = "Sorry, I couldn't save your vote; please try again later."
        else:
            if not stored:
                text = f"You already voted {emoji} on this answer — thanks!"
            elif previous:
                text = f"Changed your vote to {emoji} — thanks for the feedback!"
            else:
                text = f"Thanks for the feedback {emoji}"
        await self.send_ephemeral(interaction, text)

    async def show_sources_page(self, interaction: discord.Interaction, page: int, edit: bool = False) -> None:
        if self.engine is None:
            raise IndexMissing("the engine is still loading")
        documents = self.engine.sources()
        pages = render.paginate_sources(documents)
        page = max(0, min(page, len(pages) - 1)) if pages else 0
        embed = render.render_sources_page(pages, page, len(documents), self.engine.index_version)
        view = SourcesView(page, len(pages)) if len(pages) > 1 else discord.utils.MISSING
        if edit:
            await interaction.response.edit_message(embed=embed, view=view if view else None)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    # -- reindex --------------------------------------------------------------------------------------

    async def reindex(self, interaction: discord.Interaction, full: bool) -> None:
        if self.reindex_lock.locked():
            await interaction.response.send_message("A reindex is already running; its result will be posted "
                                                    "to whoever started it.", ephemeral=True)
            return
        async with self.reindex_lock:
            await interaction.response.defer(thinking=True, ephemeral=True)
            if self.engine is None:
                raise IndexMissing("the engine is still loading")
            log.info("reindex (full=%s) requested by user %s", full, interaction.user.id)
            try:
                report = await asyncio.to_thread(self.engine.reindex, full)
            except CasebotError as exc:
                log.warning("reindex failed: %s", exc)
                embed = render.render_reindex_failure(str(exc), self.engine.index_version)
            except Exception as exc:
                log.error("reindex failed", exc_info=exc)
                embed = render.render_reindex_failure(f"unexpected {type(exc).__name__} (details are in the "
                                                      "bot's log)", self.engine.index_version)
            else:
                log.info("reindex done: version %s, %d documents, %d passages", report.version,
                         report.documents, report.chunks)
                embed = render.render_reindex(report)
            await interaction.followup.send(embed=embed, ephemeral=True)
            interaction.extras["answered"] = True

    # -- errors ---------------------------------------------------------------------------------------

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.CommandOnCooldown):
            text = wait_text(error.retry_after)
        elif isinstance(error, app_commands.MissingPermissions):
            text = "You need the Manage Server permission for this command."
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = "This command only works in a server."
        elif isinstance(error, app_commands.CheckFailure):
            text = "You can't use this command here."
        elif isinstance(original, CasebotError):
            log.warning("command %s: %s", getattr(interaction.command, "name", "?"), original)
            text = user_message(original)
        else:
            log.error("command %s failed", getattr(interaction.command, "name", "?"), exc_info=original)
            text = GENERIC_ERROR
        await self.send_ephemeral(interaction, text)

    async def send_ephemeral(self, interaction: discord.Interaction, text: str) -> None:
        """Tell the user privately, whatever state the interaction is in; never raises."""
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True)
                return
            deferred = interaction.response.type == discord.InteractionResponseType.deferred_channel_message
            if deferred and not interaction.extras.get("answered"):
                # A public "thinking…" placeholder: remove it, so the error is seen only by the user.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not send an error message for interaction %s: %s", interaction.id, exc)


def build_commands(bot: CaseBot) -> list[app_commands.Command]:
    """The slash commands, bound to one client (so nothing is shared between clients)."""

    def on_cooldown(interaction: discord.Interaction) -> bool:
        retry = bot.cooldowns.hit(interaction.user.id)
        if retry is not None:
            raise app_commands.CommandOnCooldown(bot.cooldowns.cooldown(), retry)
        return True

    def in_guild(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        return True

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question, e.g. Why did Chicago police stop using Clearview?")
    @app_commands.check(on_cooldown)
    async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, QUESTION_MAX]) -> None:
        """Ask a question about the facial-recognition privacy documents."""
        await bot.answer_interaction(interaction, question)

    @app_commands.command(name="sources")
    @app_commands.describe(page="Page of the list to show (10 documents a page)")
    async def sources(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
        """List the documents the answers come from."""
        await bot.show_sources_page(interaction, page - 1)

    @app_commands.command(name="reindex")
    @app_commands.describe(full="Re-embed every document instead of only the changed ones")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()                          # hides it in DMs ...
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.check(in_guild)                       # ... and refuses it there (checks run bottom-up)
    async def reindex(interaction: discord.Interaction, full: bool = False) -> None:
        """Rebuild the index from the seeds folder (Manage Server only)."""
        await bot.reindex(interaction, full)

    return [ask, sources, reindex]


# ---------------------------------------------------------------------------------------------------
# Running


def read_token(env: dict | None = None, dotenv_path: str | Path | None = None) -> str | None:
    """``DISCORD_TOKEN`` from the environment, else from a ``.env`` file; None when neither has one."""
    env = os.environ if env is None else env
    token = (env.get(TOKEN_VAR) or "").strip()
    if not token and dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        token = (dotenv_values(dotenv_path).get(TOKEN_VAR) or "").strip()
    if token.lower().startswith("bot "):       # discord.py adds the "Bot " prefix itself
        token = token[4:].strip()
    return token or None


class _RedactingFormatter(logging.Formatter):
    """Formats like discord.py's default, with the token replaced wherever it might appear."""

    def __init__(self, secrets: list[str]):
        super().__init__("[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{")
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def apply_endpoints(env: dict) -> None:
    """Point discord.py at another API and gateway (a test fake) when the environment says so."""
    api = env.get(ENV_API_BASE)
    gateway = env.get(ENV_GATEWAY)
    if api:
        discord.http.Route.BASE = api.rstrip("/")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def _fail(text: str, code: int) -> int:
    print(f"casebot: {text}", file=sys.stderr, flush=True)
    return code


def run_bot(config: Config, token: str | None, sync_global: bool = False) -> int:
    """Run until SIGTERM/Ctrl-C (exit 0); 2 for a missing or rejected token, 1 for other failures."""
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False   # no voice: skip those warnings
    handler = logging.StreamHandler(sys.stderr)
    discord.utils.setup_logging(handler=handler, formatter=_RedactingFormatter([token or ""]), level=logging.INFO)
    for noisy in ("faiss", "faiss.loader", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not token or not token.strip():
        return _fail(f"{TOKEN_VAR} is not set: put the bot token in the environment or in a .env file", EXIT_TOKEN)
    apply_endpoints(os.environ)
    try:
        return asyncio.run(_serve(config, token.strip(), sync_global))
    except KeyboardInterrupt:                   # Ctrl-C before the signal handlers were installed
        return EXIT_OK


async def _serve(config: Config, token: str, sync_global: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):    # Client.run would only handle Ctrl-C
        with contextlib.suppress(NotImplementedError, RuntimeError):   # not on Windows
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        async with CaseBot(config=config, sync_global=sync_global) as bot:
            code = await _login(bot, token)
            if code is not None:
                return code
            # Loading the model and index takes seconds: done before connecting, so every event is served.
            opening = asyncio.ensure_future(asyncio.to_thread(_open_engine, config))
            await asyncio.wait({stopped, opening}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                log.info("stopped before the index finished loading")
                return EXIT_OK
            try:
                bot.engine = opening.result()
            except CasebotError as exc:
                return _fail(str(exc), EXIT_ERROR)
            log.info("index version %s loaded (%d documents)", bot.engine.index_version, len(bot.engine.sources()))

            connection = asyncio.ensure_future(bot.connect(reconnect=True))
            await asyncio.wait({stopped, connection}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                log.info("shutting down")
                await bot.close()
                with contextlib.suppress(Exception):
                    await connection
                return EXIT_OK
            return _connection_result(connection)
    finally:
        stopped.cancel()
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _login(bot: CaseBot, token: str) -> int | None:
    """Log in (this also runs setup_hook); an exit code when that fails, else None."""
    quiet = logging.getLogger("discord.client")
    quiet.setLevel(logging.WARNING)             # so a rejected token prints one line, not two
    try:
        await bot.login(token)
    except discord.LoginFailure:
        return _fail(f"Discord rejected the token in {TOKEN_VAR}; check it in the Developer Portal", EXIT_TOKEN)
    except (discord.HTTPException, OSError) as exc:
        return _fail(f"could not reach Discord to log in: {exc}", EXIT_ERROR)
    finally:
        quiet.setLevel(logging.NOTSET)
    log.info("logged in to Discord as %s", bot.user)
    return None


def _open_engine(config: Config):
    from embeddings.engine import Engine

    engine = Engine.open(config, log=logging.getLogger("casebot.engine").info)
    engine.ask("facial recognition privacy")    # load the model now, not on the first user's question
    return engine


def _connection_result(connection: asyncio.Future) -> int:
    """The exit code for a gateway connection that ended by itself."""
    try:
        connection.result()
    except discord.PrivilegedIntentsRequired:
        return _fail("Discord refused the gateway intents (this bot needs no privileged intent)", EXIT_ERROR)
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:                     # authentication failed
            return _fail(f"Discord rejected the token in {TOKEN_VAR}", EXIT_TOKEN)
        return _fail(f"the gateway closed the connection (code {exc.code})", EXIT_ERROR)
    except (discord.HTTPException, OSError) as exc:
        return _fail(f"the connection to Discord failed: {exc}", EXIT_ERROR)
    return EXIT_OK
