"""The Discord surface of casebot: /ask with threads, @mentions and replies, /sources, /reindex, /listen,
👍/👎 feedback (with an optional "what was wrong?" note).

``CaseBot`` is a ``commands.Bot`` that receives its dependencies (config, engine, database) in the
constructor; ``CaseCog`` owns the app commands and the message listener. Every answer, whether asked by
/ask, by a mention or in a thread, goes through one path (``CaseCog.respond``): resolve the question in
its conversation, answer it off the event loop, send it, open a thread on it when it was not asked in
one, and store the turn. A thread is a conversation (its id is the id of the answer message it opened
on), so follow-ups by mention or by reply in it are read in the thread's context, after restarts too.
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
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import discord_render as render
from bot.conversations import Asked, Conversations, open_database
from bot.database import Database, Listening
from bot.feedback import FeedbackStore, UnknownAnswer
from embeddings.config import Config, load_config
from embeddings.errors import (
    BackendUnavailable,
    CasebotError,
    EmptyQuestion,
    IndexCorrupt,
    IndexLocked,
    IndexMismatch,
    IndexMissing,
    ModelUnavailable,
    StoreCorrupt,
)

log = logging.getLogger("casebot.discord")

TOKEN_VAR = "DISCORD_TOKEN"

EXIT_OK, EXIT_ERROR, EXIT_TOKEN = 0, 1, 2

# The slash command's own limit, registered with Discord when commands sync: [question] max_chars of
# the defaults (the engine cuts at the configured value too).
QUESTION_MAX = load_config(env={}).question.max_chars
THREAD_NAME_MAX = 100
# Questions embedded at once. More threads than cores only slow each other down and starve the event
# loop of the GIL; the rest wait (already deferred, so Discord's 3 s deadline is met).
ASK_CONCURRENCY = max(2, min(4, os.cpu_count() or 2))
MENTION_HELP = "Ask me a question after the mention, e.g. `@casebot Who sued Clearview AI in Illinois?`"
GENERIC_ERROR = "Sorry, something went wrong on my side; the error has been logged. Please try again."
SEEN = "👀"
THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                discord.ChannelType.news_thread)


def wait_text(retry_after: float) -> str:
    return f"You're asking too fast: try again in {max(1, math.ceil(retry_after))} s."


def _who(source: discord.Message | discord.Interaction) -> int:
    """The cooldown key: the user, whether they asked by slash command or by message."""
    return (source.author if isinstance(source, discord.Message) else source.user).id


def conversation_id(channel_or_message_id: int) -> str:
    """A thread's conversation; a thread opened on a message has that message's id."""
    return f"discord:{channel_or_message_id}"


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
        cog = interaction.client.get_cog(CaseCog.__cog_name__)
        try:
            await cog.handle_vote(interaction, self.answer_id, self.vote)
        except Exception as exc:          # discord.py would only log it; the user deserves a reply
            await cog.report_error(interaction, exc)


class VoteView(discord.ui.View):
    """👍 / 👎 under an answer; persistent (no timeout, custom ids derived from the answer id)."""

    REGISTRATION_ID = "0" * 16

    def __init__(self, answer_id: str):
        super().__init__(timeout=None)
        self.add_item(VoteButton("up", answer_id))
        self.add_item(VoteButton("down", answer_id))


class WhatWasWrong(discord.ui.Modal, title="What was wrong? (optional)"):
    """Shown after a 👎: a note stored with the vote. Closing it keeps the vote without a note."""

    note = discord.ui.TextInput(label="What was wrong with this answer?", style=discord.TextStyle.paragraph,
                                required=False, max_length=1000,
                                placeholder="e.g. it cites the wrong article, or misses the date")

    def __init__(self, cog: "CaseCog", answer_id: str):
        super().__init__(timeout=15 * 60, custom_id=f"casebot:note:{answer_id}")
        self.cog, self.answer_id = cog, answer_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text = (self.note.value or "").strip()
        saved = False
        if text:
            try:
                saved = await asyncio.to_thread(self.cog.feedback.add_note, self.answer_id, interaction.user.id, text)
            except Exception as exc:
                log.error("storing a note on answer %s failed", self.answer_id, exc_info=exc)
        reply = "Thanks, your 👎 and your note are saved." if saved else "Thanks for the feedback 👎"
        await self.cog.send_ephemeral(interaction, reply)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await self.cog.report_error(interaction, error)


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
        cog = interaction.client.get_cog(CaseCog.__cog_name__)
        try:
            await cog.show_sources_page(interaction, self.page, edit=True)
        except Exception as exc:
            await cog.report_error(interaction, exc)


class SourcesView(discord.ui.View):
    def __init__(self, page: int, pages: int):
        super().__init__(timeout=None)
        self.add_item(SourcesPageButton("prev", max(0, page - 1), disabled=page <= 0))
        self.add_item(SourcesPageButton("next", min(pages - 1, page + 1), disabled=page >= pages - 1))


# ---------------------------------------------------------------------------------------------------
# The bot


class CaseTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.client.get_cog(CaseCog.__cog_name__).report_error(interaction, error)


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
    if isinstance(error, BackendUnavailable):
        return "The search service isn't answering right now; try again shortly."
    return GENERIC_ERROR


def open_store(config: Config) -> Database | None:
    """The database, or None (logged) when the file is damaged: the bot then answers without memory."""
    try:
        return open_database(config)
    except StoreCorrupt as exc:
        log.error("%s; answering without it: votes are not saved and follow-ups are remembered only until "
                  "a restart", exc)
        return None


class CaseBot(commands.Bot):
    """casebot on Discord. ``engine`` may be set after login (``run_bot`` loads the model meanwhile)."""

    def __init__(self, *, config: Config, engine=None, db: Database | None = None, sync_global: bool = False,
                 **options: Any):
        intents = discord.Intents.default()
        intents.message_content = False        # privileged; mentions, replies that ping and DMs carry content
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(command_prefix=(), intents=intents, tree_cls=CaseTree, help_command=None, **options)
        self.config = config
        self.engine = engine
        self.db = db
        self.sync_global = sync_global

    async def setup_hook(self) -> None:
        await self.add_cog(CaseCog(self))
        # Registering the view's dynamic items makes buttons on old messages work after a restart.
        self.add_view(VoteView(VoteView.REGISTRATION_ID))
        self.add_dynamic_items(SourcesPageButton)
        guild_id = self.config.discord.guild_id
        try:
            if guild_id:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                commands_ = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(commands_), guild_id)
            if self.sync_global:
                commands_ = await self.tree.sync()
                log.info("synced %d commands globally (may take up to an hour to appear)", len(commands_))
        except discord.HTTPException as exc:
            # e.g. the bot is not in that guild or lacks the applications.commands scope: keep running.
            log.error("could not sync slash commands (%s); existing registrations stay in effect", exc)
        if not guild_id and not self.sync_global:
            log.info("slash commands not synced (set discord.guild_id, or run `casebot bot --sync-global`)")

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled by CaseCog's listener only."""

    async def on_ready(self) -> None:
        log.info("logged in as %s (id %s) in %d guilds", self.user, self.user.id if self.user else "?",
                 len(self.guilds))


def in_guild(interaction: discord.Interaction) -> bool:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return True


def on_cooldown(interaction: discord.Interaction) -> bool:
    """/ask shares the cog's per-user CooldownMapping with mentions (a bucket per bot, not per process)."""
    cog: CaseCog = interaction.command.binding
    retry = cog.cooldowns.update_rate_limit(interaction)
    if retry is not None:
        raise app_commands.CommandOnCooldown(cog.cooldowns.get_bucket(interaction), retry)
    return True


class CaseCog(commands.Cog, name="casebot"):
    def __init__(self, bot: CaseBot):
        self.bot = bot
        config = bot.config
        self.conversations = Conversations(config, bot.db)
        self.feedback = FeedbackStore(bot.db, config.paths.feedback) if bot.db is not None else None
        self.cooldowns = commands.CooldownMapping.from_cooldown(max(1, config.discord.cooldown_rate),
                                                                config.discord.cooldown_seconds, _who)
        self.reindex_lock = asyncio.Lock()
        self.ask_slots = asyncio.Semaphore(ASK_CONCURRENCY)

    async def cog_load(self) -> None:
        if self.bot.db is not None and self.bot.config.conversation.retention_days > 0:
            self.prune.start()

    async def cog_unload(self) -> None:
        self.prune.cancel()

    @tasks.loop(hours=24)
    async def prune(self) -> None:
        """Apply the retention setting once a day while the bot runs (it is also applied at start)."""
        try:
            removed = await asyncio.to_thread(self.bot.db.prune, self.bot.config.conversation.retention_days)
        except Exception as exc:
            log.error("pruning old conversations failed: %s", exc)
            return
        if any(removed):
            log.info("retention: removed %d conversations and %d older answers", *removed)

    # -- commands -------------------------------------------------------------------------------------

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question, e.g. Why did Chicago police stop using Clearview?")
    @app_commands.check(on_cooldown)
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, QUESTION_MAX]) -> None:
        """Ask a question about the facial-recognition privacy documents (in a thread: a follow-up)."""
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        in_thread = isinstance(channel, discord.Thread) or getattr(channel, "type", None) in THREAD_TYPES

        async def send(**kwargs: Any) -> discord.Message:
            message = await interaction.followup.send(wait=True, **kwargs)
            interaction.extras["answered"] = True
            return message

        conversation = conversation_id(interaction.channel_id) if in_thread else None
        await self.respond(question, conversation, send, "slash", thread_in=None if in_thread else channel)

    @app_commands.command(name="sources")
    @app_commands.describe(page="Page of the list to show (10 documents a page)")
    async def sources(self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
        """List the documents the answers come from."""
        await self.show_sources_page(interaction, page - 1)

    @app_commands.command(name="reindex")
    @app_commands.describe(full="Re-embed every document instead of only the changed ones")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()                          # hides it in DMs ...
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.check(in_guild)                       # ... and refuses it there (checks run bottom-up)
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        """Rebuild the index from the seeds folder (Manage Server only)."""
        await self.run_reindex(interaction, full)

    @app_commands.command(name="listen")
    @app_commands.describe(where="everywhere: answer mentions in every channel; add/remove: answer mentions only in "
                                 "the chosen channels; show: the current setting",
                           channel="The channel to add or remove (default: this one)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.check(in_guild)
    async def listen(self, interaction: discord.Interaction, where: Literal["everywhere", "add", "remove", "show"],
                     channel: discord.TextChannel | None = None) -> None:
        """Choose where mentions of the bot are answered (Manage Server only). /ask works everywhere."""
        if self.bot.db is None:
            await self.send_ephemeral(interaction, "Settings can't be saved right now (the database is unavailable).")
            return
        target = channel.id if channel is not None else interaction.channel_id
        current = await asyncio.to_thread(self.bot.db.listening, interaction.guild_id)
        if where == "everywhere":
            new = Listening("everywhere")
        elif where == "add":
            chosen = current.channels if current.mode == "channels" else ()
            new = Listening("channels", tuple(dict.fromkeys((*chosen, target))))
        elif where == "remove":
            remaining = tuple(c for c in current.channels if c != target)
            new = Listening("channels", remaining) if current.mode == "channels" and remaining else current
            if current.mode == "channels" and not remaining:
                new = Listening("everywhere")
        else:
            new = current
        if new != current:
            await asyncio.to_thread(self.bot.db.set_listening, interaction.guild_id, new)
            log.info("guild %s: mentions answered %s (set by user %s)", interaction.guild_id,
                     new.mode if new.mode == "everywhere" else new.channels, interaction.user.id)
        if new.mode == "everywhere":
            text = "I answer mentions in every channel (and in threads)."
        else:
            text = "I answer mentions only in " + ", ".join(f"<#{c}>" for c in new.channels) + \
                   " (and in threads under them, and in my answer threads). /ask works everywhere."
        await self.send_ephemeral(interaction, text)

    # -- the one answer path --------------------------------------------------------------------------

    async def respond(self, question: str, conversation: str | None,
                      send: Callable[..., Awaitable[discord.Message]], surface: str, thread_in: Any) -> None:
        """Answer ``question`` in ``conversation`` (None: a new one), send it with ``send`` and store the turn.

        A new conversation's answer opens a thread named after the question; the thread (id = the answer
        message's id) is the conversation from then on. Without permission to open threads, replies to
        the answer still continue it. ``thread_in``: the channel to open the thread in (None: don't)."""
        if self.bot.engine is None:
            raise IndexMissing("the engine is still loading")
        question = clean_question(question)[: self.bot.config.question.max_chars]
        async with self.ask_slots:
            asked: Asked = await asyncio.to_thread(self.conversations.ask, self.bot.engine, question, conversation,
                                                   surface, None, False)
        # Stored before it is sent, so a vote clicked at once finds it.
        await asyncio.to_thread(self.conversations.record, asked, conversation, surface)
        messages = render.pack_messages(render.render_answer(asked.answer))
        last = None
        for i, embeds in enumerate(messages):
            final = i == len(messages) - 1
            last = await send(embeds=embeds, view=VoteView(asked.answer_id) if final else discord.utils.MISSING)
        if conversation is None:
            await asyncio.to_thread(self.conversations.attach, asked, conversation_id(last.id), surface)
            if thread_in is not None:
                await self.open_thread(thread_in, last, asked.answer.question)

    async def open_thread(self, channel: Any, message: discord.Message, question: str) -> None:
        name = render.trim(render.one_line(question), THREAD_NAME_MAX) or "casebot"
        if not isinstance(channel, discord.TextChannel):      # DMs, voice text, forums: no thread on a message
            return
        try:
            await channel.create_thread(name=name, message=message, auto_archive_duration=1440)
        except (discord.Forbidden, discord.HTTPException) as exc:
            log.warning("could not open a thread on answer %s (%s); replies to it continue the conversation",
                        message.id, exc)

    # -- messages: mentions, replies, threads ---------------------------------------------------------

    def question_from_message(self, message: discord.Message) -> str | None:
        """The question in a message addressed to the bot (mention, reply that pings it, DM); else None."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return None
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None
        content = message.content or ""
        patterns = [rf"<@!?{me.id}>"]
        guild = message.guild
        role = guild.self_role if guild is not None else None
        if role is not None:
            patterns.append(rf"<@&{role.id}>")
        addressed = (guild is None or any(re.search(p, content) for p in patterns)
                     or any(u.id == me.id for u in message.mentions))   # a reply that pings the bot
        if not addressed:
            return None
        return " ".join(re.sub("|".join(patterns), " ", content).split())

    def conversation_of(self, message: discord.Message) -> tuple[str | None, bool]:
        """(the conversation the message continues, whether it was asked in a thread)."""
        channel = message.channel
        thread = isinstance(channel, discord.Thread) or getattr(channel, "type", None) in THREAD_TYPES
        if thread:
            return conversation_id(channel.id), True
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            candidate = conversation_id(reference.message_id)
            if self.conversations.known(candidate):
                return candidate, False          # a reply to one of its answers outside the thread
        if self.conversations.known(conversation_id(channel.id)):
            return conversation_id(channel.id), True       # a thread discord.py has not seen created
        return None, False

    def listens_in(self, message: discord.Message, in_thread: bool) -> bool:
        if message.guild is None or self.bot.db is None:
            return True
        try:
            listening = self.bot.db.listening(message.guild.id)
        except Exception as exc:          # the setting can't be read: answer rather than go silent
            log.error("reading the listening setting failed: %s", exc)
            return True
        if listening.mode == "everywhere":
            return True
        channel = message.channel
        parent = getattr(channel, "parent_id", None)
        return listening.allows(channel.id) or (parent is not None and listening.allows(parent)) or (
            in_thread and self.conversations.known(conversation_id(channel.id)))

    @commands.Cog.listener("on_message")
    async def on_message(self, message: discord.Message) -> None:
        question = self.question_from_message(message)
        if question is None:
            return
        try:
            conversation, in_thread = await asyncio.to_thread(self.conversation_of, message)
            if not await asyncio.to_thread(self.listens_in, message, in_thread):
                return
            with contextlib.suppress(discord.HTTPException):
                await message.add_reaction(SEEN)       # seen, before any work
            retry = self.cooldowns.update_rate_limit(message)
            if retry is not None:
                await self._reply(message, content=wait_text(retry), delete_after=min(retry, 30))
                return
            if not question:
                await self._reply(message, content=MENTION_HELP)
                return
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()  # one typing indicator, shown until the reply arrives

            async def send(**kwargs: Any) -> discord.Message:
                return await self._reply(message, **kwargs)

            surface = "thread" if in_thread else ("reply" if conversation else "mention")
            await self.respond(question, conversation, send, surface, thread_in=None if in_thread else message.channel)
        except discord.Forbidden:
            log.warning("no permission to reply in channel %s", message.channel.id)
        except Exception as exc:
            if not isinstance(exc, CasebotError):
                log.error("answering message %s failed", message.id, exc_info=exc)
            with contextlib.suppress(discord.HTTPException):
                await self._reply(message, content=user_message(exc))

    async def _reply(self, message: discord.Message, **kwargs: Any) -> discord.Message:
        kwargs = {k: v for k, v in kwargs.items() if v is not None and v is not discord.utils.MISSING}
        reference = message.to_reference(fail_if_not_exists=False)
        return await message.channel.send(reference=reference, mention_author=False, **kwargs)

    # -- votes and sources ----------------------------------------------------------------------------

    async def handle_vote(self, interaction: discord.Interaction, answer_id: str, vote: str) -> None:
        if self.feedback is None:
            await self.send_ephemeral(interaction, "Sorry, votes can't be saved right now; please try again later.")
            return

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
            if stored and vote == "down":
                await interaction.response.send_modal(WhatWasWrong(self, answer_id))
                return
            if not stored:
                text = f"You already voted {emoji} on this answer — thanks!"
            elif previous:
                text = f"Changed your vote to {emoji} — thanks for the feedback!"
            else:
                text = f"Thanks for the feedback {emoji}"
        await self.send_ephemeral(interaction, text)

    async def show_sources_page(self, interaction: discord.Interaction, page: int, edit: bool = False) -> None:
        if self.bot.engine is None:
            raise IndexMissing("the engine is still loading")
        documents = self.bot.engine.sources()
        pages = render.paginate_sources(documents)
        page = max(0, min(page, len(pages) - 1)) if pages else 0
        embed = render.render_sources_page(pages, page, len(documents), self.bot.engine.index_version)
        view = SourcesView(page, len(pages)) if len(pages) > 1 else discord.utils.MISSING
        if edit:
            await interaction.response.edit_message(embed=embed, view=view if view else None)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    # -- reindex --------------------------------------------------------------------------------------

    async def run_reindex(self, interaction: discord.Interaction, full: bool) -> None:
        if self.reindex_lock.locked():
            await interaction.response.send_message("A reindex is already running; its result will be posted "
                                                    "to whoever started it.", ephemeral=True)
            return
        async with self.reindex_lock:
            await interaction.response.defer(thinking=True, ephemeral=True)
            engine = self.bot.engine
            if engine is None:
                raise IndexMissing("the engine is still loading")
            log.info("reindex (full=%s) requested by user %s", full, interaction.user.id)
            try:
                report = await asyncio.to_thread(engine.reindex, full)
            except CasebotError as exc:
                log.warning("reindex failed: %s", exc)
                embed = render.render_reindex_failure(str(exc), engine.index_version)
            except Exception as exc:
                log.error("reindex failed", exc_info=exc)
                embed = render.render_reindex_failure(f"unexpected {type(exc).__name__} (details are in the "
                                                      "bot's log)", engine.index_version)
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
        async with CaseBot(config=config, db=open_store(config), sync_global=sync_global) as bot:
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
