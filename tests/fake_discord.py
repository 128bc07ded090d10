"""A fake Discord for tests: gateway payloads, REST behaviour, and two ways to plug it into discord.py.

``FakeDiscordAPI`` is the REST side as plain logic: it answers the routes the bot uses, keeps the
interactions and messages it has seen, and enforces what Discord enforces and discord.py does not check:
the 3 s deadline for an interaction's first response (404, code 10062), a second first-response (400,
code 40060), and the message and embed size limits (400, code 50035).

* In process: ``install_recorder(monkeypatch, api)`` routes ``discord.http.HTTPClient.request`` and
  ``discord.webhook.async_.AsyncWebhookAdapter.request`` to the API object, and tests feed gateway payloads
  (built by the ``*_payload`` helpers here) to ``client._connection.parsers[...]``.
* Over sockets: ``FakeDiscordServer`` serves the same API plus a gateway (HELLO, heartbeat ACK,
  IDENTIFY → READY + GUILD_CREATE, pushed dispatches) on 127.0.0.1 with aiohttp.

The limits are checked here independently of bot/discord_render.py, in characters as Discord counts them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

APP_ID = 700000000000000001
BOT_ID = APP_ID                     # a bot user's id equals its application's id
GUILD_ID = 710000000000000001
CHANNEL_ID = 720000000000000001
OTHER_CHANNEL_ID = 720000000000000002
BOT_ROLE_ID = 730000000000000001
OWNER_ID = 740000000000000001
DEADLINE = 3.0
TOKEN = "fake-bot-token.MTIz.good"

MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
EVERYDAY_PERMISSIONS = (1 << 10) | SEND_MESSAGES | (1 << 14) | (1 << 16) | (1 << 31)  # view, send, embed, history, use app commands

_snowflakes = itertools.count(800000000000000001)


def snowflake() -> int:
    return next(_snowflakes)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


# ---------------------------------------------------------------------------------------------------
# Gateway payloads (shapes as Discord sends them, API v10)


def user_payload(user_id: int, name: str, bot: bool = False) -> dict:
    return {"id": str(user_id), "username": name, "global_name": name, "discriminator": "0",
            "avatar": None, "bot": bot, "public_flags": 0}


def bot_user_payload() -> dict:
    data = user_payload(BOT_ID, "casebot", bot=True)
    data.update({"verified": True, "mfa_enabled": False, "flags": 0, "email": None})
    return data


def member_payload(user_id: int, name: str, permissions: int = EVERYDAY_PERMISSIONS, roles=(), bot=False) -> dict:
    return {"user": user_payload(user_id, name, bot=bot), "roles": [str(r) for r in roles], "nick": None,
            "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": False, "mute": False, "flags": 0,
            "pending": False, "permissions": str(permissions), "avatar": None, "communication_disabled_until": None}


def channel_payload(channel_id: int = CHANNEL_ID, name: str = "general") -> dict:
    return {"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "name": name, "position": 0,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}


def thread_payload(thread_id: int, name: str, parent_id: int = CHANNEL_ID, owner_id: int = BOT_ID) -> dict:
    return {"id": str(thread_id), "type": 11, "guild_id": str(GUILD_ID), "parent_id": str(parent_id), "name": name,
            "owner_id": str(owner_id), "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0,
            "member_count": 1, "flags": 0, "total_message_sent": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                "archive_timestamp": iso_now(), "create_timestamp": iso_now()}}


def ready_payload(resume_url: str = "ws://127.0.0.1/gateway") -> dict:
    return {"v": 10, "user": bot_user_payload(), "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session", "resume_gateway_url": resume_url, "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": [],
            "user_settings": {}, "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": []}


def guild_create_payload() -> dict:
    everyone = {"id": str(GUILD_ID), "name": "@everyone", "permissions": str(EVERYDAY_PERMISSIONS), "position": 0,
                "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    bot_role = {"id": str(BOT_ROLE_ID), "name": "casebot", "permissions": str(EVERYDAY_PERMISSIONS), "position": 1,
                "color": 0, "hoist": False, "managed": True, "mentionable": False, "flags": 0,
                "tags": {"bot_id": str(BOT_ID)}}
    return {
        "id": str(GUILD_ID), "name": "Privacy Law Reading Group", "icon": None, "splash": None,
        "discovery_splash": None, "owner_id": str(OWNER_ID), "afk_channel_id": None, "afk_timeout": 300,
        "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
        "roles": [everyone, bot_role], "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
        "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None, "max_members": 500000,
        "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
        "premium_subscription_count": 0, "preferred_locale": "en-US", "public_updates_channel_id": None,
        "nsfw_level": 0, "premium_progress_bar_enabled": False, "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": False, "unavailable": False, "member_count": 2,
        "members": [member_payload(BOT_ID, "casebot", roles=[BOT_ROLE_ID], bot=True)],
        "channels": [channel_payload(), channel_payload(OTHER_CHANNEL_ID, "off-topic")], "threads": [], "voice_states": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }


def _interaction_base(kind: int, user_id: int, permissions: int, guild: bool = True,
                      channel: dict | None = None) -> dict:
    data = {
        "id": str(snowflake()), "application_id": str(APP_ID), "type": kind,
        "token": f"itoken-{snowflake()}", "version": 1, "locale": "en-US",
        "app_permissions": str(EVERYDAY_PERMISSIONS), "entitlements": [], "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    if guild:
        data.update({"guild_id": str(GUILD_ID), "guild_locale": "en-US", "context": 0,
                     "guild": {"id": str(GUILD_ID), "locale": "en-US", "features": []},
                     "channel_id": (channel or channel_payload())["id"], "channel": channel or channel_payload(),
                     "member": member_payload(user_id, f"user{user_id % 10000}", permissions)})
    else:
        dm = {"id": str(snowflake()), "type": 1, "recipients": [user_payload(user_id, "dmuser")], "flags": 0}
        data.update({"context": 1, "channel_id": dm["id"], "channel": dm,
                     "user": user_payload(user_id, f"user{user_id % 10000}")})
    return data


def slash_payload(name: str, options: dict | None = None, user_id: int = 1, permissions: int = EVERYDAY_PERMISSIONS,
                  guild: bool = True, channel: dict | None = None) -> dict:
    """INTERACTION_CREATE for ``/name option:value ...`` (string, integer and boolean options)."""
    types = {str: 3, int: 4, bool: 5}
    opts = [{"name": k, "type": types[type(v)], "value": v} for k, v in (options or {}).items()]
    data = _interaction_base(2, user_id, permissions, guild, channel)
    data["data"] = {"id": str(snowflake()), "name": name, "type": 1, "options": opts}
    if guild:
        data["data"]["guild_id"] = str(GUILD_ID)
    return data


def button_payload(message: dict, custom_id: str, user_id: int = 1) -> dict:
    """INTERACTION_CREATE for a click on the button ``custom_id`` of a message the bot sent."""
    data = _interaction_base(3, user_id, EVERYDAY_PERMISSIONS, guild=True)
    data["data"] = {"custom_id": custom_id, "component_type": 2}
    data["message"] = message
    return data


def modal_submit_payload(modal: dict, values: dict[str, str], user_id: int = 1, message: dict | None = None) -> dict:
    """INTERACTION_CREATE for submitting a modal the bot showed (``modal``: the callback's data), with the
    text inputs' ``values`` by custom id."""
    def fill(components: list) -> list:
        out = []
        for c in components:
            if c.get("type") == 1:
                out.append({"type": 1, "components": fill(c["components"])})
            elif c.get("type") == 18:
                out.append({"type": 18, "id": c.get("id", 0), "component": fill([c["component"]])[0]})
            else:
                out.append({"type": c["type"], "custom_id": c["custom_id"], "value": values.get(c["custom_id"], "")})
        return out

    data = _interaction_base(5, user_id, EVERYDAY_PERMISSIONS, guild=True)
    data["data"] = {"custom_id": modal["custom_id"], "components": fill(modal["components"])}
    if message is not None:
        data["message"] = message
    return data


def message_payload(content: str, author_id: int = 2, mention_bot: bool = True, guild: bool = True,
                    role_mention: bool = False, channel_id: int = CHANNEL_ID, reply_to: dict | None = None) -> dict:
    """MESSAGE_CREATE for a user's message (a mention of the bot is in ``content`` if the caller put it).

    ``reply_to``: a message this one replies to; Discord then lists its author in ``mentions`` when
    ``mention_bot`` (the reply "pings"), which is what lets a bot without Message Content read it."""
    data = {
        "id": str(snowflake()), "channel_id": str(channel_id), "type": 19 if reply_to else 0, "content": content,
        "author": user_payload(author_id, f"user{author_id % 10000}"), "attachments": [], "embeds": [],
        "components": [], "mentions": [], "mention_roles": [], "mention_everyone": False, "pinned": False,
        "tts": False, "timestamp": iso_now(), "edited_timestamp": None, "flags": 0, "nonce": None,
    }
    if mention_bot:
        data["mentions"] = [dict(bot_user_payload(), member=member_payload(BOT_ID, "casebot", roles=[BOT_ROLE_ID],
                                                                          bot=True))]
    if role_mention:
        data["mention_roles"] = [str(BOT_ROLE_ID)]
    if reply_to is not None:
        data["message_reference"] = {"type": 0, "message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                                     "guild_id": str(GUILD_ID)}
        data["referenced_message"] = reply_to
    if guild:
        data["guild_id"] = str(GUILD_ID)
        member = member_payload(author_id, f"user{author_id % 10000}")
        member.pop("user")
        data["member"] = member
    return data


# ---------------------------------------------------------------------------------------------------
# Size limits, checked the way Discord does (characters; the sum over all embeds of a message)


def limit_errors(body: dict) -> dict:
    """Discord's ``errors`` object for a message body breaking a limit; empty when it is acceptable."""
    errors: dict[str, Any] = {}

    def bad(path: str, text: str) -> None:
        errors[path] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": text}]}

    content = body.get("content") or ""
    if len(content) > 2000:
        bad("content", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        bad("embeds", "Must be 10 or fewer in length.")
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            value = e.get(key) or ""
            total += len(value)
            if len(value) > limit:
                bad(f"embeds.{i}.{key}", f"Must be {limit} or fewer in length.")
        fields = e.get("fields") or []
        if len(fields) > 25:
            bad(f"embeds.{i}.fields", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = f.get(key) or ""
                total += len(value)
                if not value:
                    errors[f"embeds.{i}.fields.{j}.{key}"] = {"_errors": [{"code": "BASE_TYPE_REQUIRED",
                                                                            "message": "This field is required"}]}
                if len(value) > limit:
                    bad(f"embeds.{i}.fields.{j}.{key}", f"Must be {limit} or fewer in length.")
        footer = (e.get("footer") or {}).get("text") or ""
        author = (e.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            bad(f"embeds.{i}.footer.text", "Must be 2048 or fewer in length.")
        if len(author) > 256:
            bad(f"embeds.{i}.author.name", "Must be 256 or fewer in length.")
    if total > 6000:
        bad("embeds", "Embed size exceeds maximum size of 6000")
    for r, row in enumerate(body.get("components") or []):
        for c, comp in enumerate(row.get("components") or []):
            if len(comp.get("custom_id") or "") > 100:
                bad(f"components.{r}.components.{c}.custom_id", "Must be 100 or fewer in length.")
            if len(comp.get("label") or "") > 80:
                bad(f"components.{r}.components.{c}.label", "Must be 80 or fewer in length.")
    return errors


# ---------------------------------------------------------------------------------------------------
# The REST side


@dataclass
class Request:
    method: str
    path: str                    # without the /api/v10 prefix and query
    query: dict
    body: Any
    at: float                    # FakeDiscordAPI.now() when it arrived
    status: int = 0
    response: Any = None


@dataclass
class InteractionState:
    id: str
    token: str
    created: float
    payload: dict
    response_type: int | None = None
    response_flags: int = 0
    original: dict | None = None          # the original response message, once it exists
    original_pending: bool = False        # deferred: the first followup fills the original
    original_deleted: bool = False
    messages: list[dict] = field(default_factory=list)   # every message this interaction produced


class FakeDiscordAPI:
    """Answers discord.py's REST calls like Discord would, and lets tests await what the bot sends."""

    def __init__(self, token: str = TOKEN, deadline: float = DEADLINE, clock: Callable[[], float] | None = None):
        self.token = token
        self.deadline = deadline
        self._clock = clock or time.monotonic
        self.skew = 0.0                                  # seconds a test makes pass "on Discord's side"
        self.requests: list[Request] = []
        self.interactions: dict[str, InteractionState] = {}
        self.by_token: dict[str, InteractionState] = {}
        self.messages: dict[str, dict] = {}
        self.commands: dict[str, list[dict]] = {}       # "global" or guild id -> synced commands
        self.errors: list[Request] = []                  # every request answered with a 4xx
        self.threads: dict[str, dict] = {}               # thread id -> channel payload
        self.reactions: list[tuple[str, str]] = []       # (message id, emoji) the bot added
        self._changed: asyncio.Condition | None = None

    # -- bookkeeping ------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self.skew

    def track(self, payload: dict) -> dict:
        """Remember an interaction the gateway is about to deliver (its deadline starts now)."""
        state = InteractionState(payload["id"], payload["token"], self.now(), payload)
        self.interactions[state.id] = state
        self.by_token[state.token] = state
        return payload

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every request); return its value."""
        cond = self._condition()

        async def waiter():
            async with cond:
                while True:
                    value = predicate()
                    if value:
                        return value
                    await cond.wait()

        return await asyncio.wait_for(waiter(), timeout)

    def interaction(self, payload_or_id) -> InteractionState:
        key = payload_or_id["id"] if isinstance(payload_or_id, dict) else str(payload_or_id)
        return self.interactions[key]

    def find(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # -- dispatch ---------------------------------------------------------------------------------

    async def handle(self, method: str, path: str, query: dict | None, body: Any, auth: str | None) -> tuple[int, Any]:
        req = Request(method, path, dict(query or {}), body, self.now())
        self.requests.append(req)
        try:
            status, data = self._route(req, auth)
        except Exception as exc:  # a bug in the fake must show up, not hang the test
            status, data = 500, {"message": f"fake discord error: {exc!r}", "code": 0}
        req.status, req.response = status, data
        if status >= 400:
            self.errors.append(req)
        await self._notify()
        return status, data

    def _route(self, req: Request, auth: str | None) -> tuple[int, Any]:
        m, p, body = req.method, req.path, req.body or {}
        webhook = re.fullmatch(r"/webhooks/(\d+)/([^/]+)(/messages/(@original|\d+))?", p)
        callback = re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", p)
        if callback:
            return self._callback(callback.group(1), callback.group(2), body)
        if webhook:
            return self._webhook(m, webhook.group(2), webhook.group(4), body)
        # Everything else is the bot's own REST client: it must carry the token.
        if auth != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}
        if m == "GET" and p == "/users/@me":
            return 200, bot_user_payload()
        if m == "GET" and p == "/oauth2/applications/@me":
            return 200, {"id": str(APP_ID), "name": "casebot", "icon": None, "description": "", "bot_public": True,
                         "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0,
                         "owner": user_payload(OWNER_ID, "owner"), "team": None, "summary": "",
                         "rpc_origins": [], "bot": bot_user_payload()}
        if m == "GET" and p == "/gateway":
            return 200, {"url": "ws://127.0.0.1/gateway"}
        cmds = re.fullmatch(rf"/applications/{APP_ID}(/guilds/(\d+))?/commands", p)
        if cmds and m == "PUT":
            scope = cmds.group(2) or "global"
            synced = [dict(c, id=str(snowflake()), application_id=str(APP_ID), version="1",
                           **({"guild_id": scope} if scope != "global" else {})) for c in body]
            self.commands[scope] = synced
            return 200, synced
        if cmds and m == "GET":
            return 200, self.commands.get(cmds.group(2) or "global", [])
        send = re.fullmatch(r"/channels/(\d+)/messages", p)
        if send and m == "POST":
            return self._create_message(send.group(1), body, reply_to=(body.get("message_reference") or {}))
        if re.fullmatch(r"/channels/\d+/typing", p) and m == "POST":
            return 204, None
        thread = re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", p)
        if thread and m == "POST":
            return self._start_thread(thread.group(1), thread.group(2), body)
        reaction = re.fullmatch(r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", p)
        if reaction and m == "PUT":
            self.reactions.append((reaction.group(2), urllib.parse.unquote(reaction.group(3))))
            return 204, None
        delete = re.fullmatch(r"/channels/(\d+)/messages/(\d+)", p)
        if delete and m == "DELETE":
            return (204, None) if self.messages.pop(delete.group(2), None) else (404, {"message": "Unknown Message",
                                                                                      "code": 10008})
        return 404, {"message": f"404: Not Found ({m} {p} is not faked)", "code": 0}

    def _message(self, body: dict, channel_id: str, **extra) -> dict:
        msg = {
            "id": str(snowflake()), "channel_id": channel_id, "type": 0, "content": body.get("content") or "",
            "author": user_payload(BOT_ID, "casebot", bot=True), "embeds": body.get("embeds") or [],
            "components": body.get("components") or [], "attachments": [], "mentions": [], "mention_roles": [],
            "mention_everyone": False, "pinned": False, "tts": False, "timestamp": iso_now(),
            "edited_timestamp": None, "flags": body.get("flags") or 0,
        }
        msg.update(extra)
        self.messages[msg["id"]] = msg
        return msg

    def _create_message(self, channel_id: str, body: dict, reply_to: dict) -> tuple[int, Any]:
        if not (body.get("content") or body.get("embeds") or body.get("components")):
            return 400, {"message": "Cannot send an empty message", "code": 50006}
        errors = limit_errors(body)
        if errors:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}
        extra = {"guild_id": str(GUILD_ID)}
        if reply_to.get("message_id"):
            extra.update(type=19, message_reference={"message_id": reply_to["message_id"], "channel_id": channel_id})
        return 200, self._message(body, channel_id, **extra)

    def _start_thread(self, channel_id: str, message_id: str, body: dict) -> tuple[int, Any]:
        """A public thread on a message: Discord gives it the message's id (one thread per message)."""
        if message_id in self.threads:
            return 400, {"message": "A thread has already been created for this message", "code": 160004}
        if message_id not in self.messages:
            return 404, {"message": "Unknown Message", "code": 10008}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": {"name": {"_errors": [
                {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}}}
        self.threads[message_id] = thread_payload(int(message_id), name, parent_id=int(channel_id))
        return 201, self.threads[message_id]

    @staticmethod
    def _metadata(state: InteractionState) -> dict:
        payload = state.payload
        user = payload.get("user") or (payload.get("member") or {}).get("user")
        return {"id": state.id, "type": payload["type"], "user": user,
                "authorizing_integration_owners": payload.get("authorizing_integration_owners", {})}

    def _callback(self, interaction_id: str, token: str, body: dict) -> tuple[int, Any]:
        state = self.interactions.get(interaction_id)
        if state is None or state.token != token:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if self.now() - state.created > self.deadline:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if state.response_type is not None:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        kind = body.get("type")
        data = body.get("data") or {}
        if kind in (4, 7):
            errors = limit_errors(data)
            if errors:
                return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}
        state.response_type = kind
        state.response_flags = data.get("flags") or 0
        channel_id = str(state.payload.get("channel_id", CHANNEL_ID))
        resource: dict = {"type": kind}
        if kind == 4:                                  # a message now
            state.original = self._message(data, channel_id, interaction_metadata=self._metadata(state))
            state.messages.append(state.original)
            resource["message"] = state.original
        elif kind == 5:                                # deferred: "thinking…" until the first followup
            state.original_pending = True
            state.original = self._message({"content": "", "flags": state.response_flags | 128}, channel_id,
                                           interaction_metadata=self._metadata(state))
            resource["message"] = state.original
        elif kind == 7:                                # update the message a component is on
            message = state.payload.get("message") or {}
            stored = self.messages.get(str(message.get("id")))
            if stored is not None:
                for key in ("content", "embeds", "components"):
                    if key in data:
                        stored[key] = data[key]
                resource["message"] = stored
        return 200, {"interaction": {"id": interaction_id, "type": state.payload["type"],
                                     "response_message_loading": kind == 5,
                                     "response_message_ephemeral": bool(state.response_flags & 64)},
                     "resource": resource}

    def _webhook(self, method: str, token: str, message_ref: str | None, body: dict) -> tuple[int, Any]:
        state = self.by_token.get(token)
        if state is None or state.response_type is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        if self.now() - state.created > 15 * 60:        # interaction tokens live 15 minutes
            return 401, {"message": "Invalid Webhook Token", "code": 50027}
        if message_ref is None and method == "POST":  # a followup message
            if not (body.get("content") or body.get("embeds") or body.get("components")):
                return 400, {"message": "Cannot send an empty message", "code": 50006}
            errors = limit_errors(body)
            if errors:
                return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}
            if state.original_pending and not state.original_deleted:
                # Discord turns the first followup after a defer into the original response,
                # which keeps the defer's flags (an ephemeral flag on this followup is ignored).
                state.original_pending = False
                flags = state.response_flags
                msg = state.original
                msg.update(content=body.get("content") or "", embeds=body.get("embeds") or [],
                           components=body.get("components") or [], flags=flags)
            else:
                msg = self._message(body, str(state.payload.get("channel_id", CHANNEL_ID)), webhook_id=str(APP_ID))
            state.messages.append(msg)
            return 200, msg
        if message_ref == "@original":
            if state.original is None or state.original_deleted:
                return 404, {"message": "Unknown Message", "code": 10008}
            if method == "DELETE":
                state.original_deleted = True
                state.original_pending = False
                self.messages.pop(state.original["id"], None)
                return 204, None
            if method == "PATCH":
                errors = limit_errors(body)
                if errors:
                    return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}
                state.original_pending = False
                state.original.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
                return 200, state.original
            if method == "GET":
                return 200, state.original
        return 404, {"message": "404: Not Found", "code": 0}

    # -- views for assertions -------------------------------------------------------------------------

    def visible_messages(self, payload: dict) -> list[dict]:
        """The messages an interaction left (the original unless deleted, then followups), in order."""
        state = self.interaction(payload)
        return [m for m in state.messages if not (state.original_deleted and m is state.original)]


# ---------------------------------------------------------------------------------------------------
# In-process: record at discord.py's two HTTP entry points


class _FakeResponse:
    def __init__(self, status: int):
        self.status = status
        self.reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")


def _raise_for(status: int, data: Any) -> None:
    import discord

    response = _FakeResponse(status)
    if status == 403:
        raise discord.Forbidden(response, data)
    if status == 404:
        raise discord.NotFound(response, data)
    if status >= 500:
        raise discord.DiscordServerError(response, data)
    raise discord.HTTPException(response, data)


def install_recorder(monkeypatch, api: FakeDiscordAPI) -> None:
    """Route discord.py's REST client and webhook adapter to ``api`` (no sockets)."""
    import discord
    from discord.webhook.async_ import AsyncWebhookAdapter

    base = len(discord.http.Route.BASE)

    async def http_request(self, route, *, files=None, form=None, **kwargs):
        body = kwargs.get("json")
        if body is None and form:
            body = next((json.loads(f["value"]) for f in form if f.get("name") == "payload_json"), None)
        status, data = await api.handle(route.method, route.url[base:].split("?")[0], kwargs.get("params"), body,
                                        f"Bot {self.token}" if self.token else None)
        if status >= 300 and status != 304:
            _raise_for(status, data)
        return data

    async def webhook_request(self, route, session=None, *, payload=None, multipart=None, params=None, **kwargs):
        body = payload
        if body is None and multipart:
            body = next((json.loads(f["value"]) for f in multipart if f.get("name") == "payload_json"), None)
        status, data = await api.handle(route.method, route.url[base:].split("?")[0], params, body, None)
        if status >= 300:
            _raise_for(status, data)
        return data

    monkeypatch.setattr(discord.http.HTTPClient, "request", http_request)
    monkeypatch.setattr(AsyncWebhookAdapter, "request", webhook_request)


# ---------------------------------------------------------------------------------------------------
# Over sockets: REST + gateway on 127.0.0.1


class FakeDiscordServer:
    """``FakeDiscordAPI`` over HTTP plus a gateway; ``api_base`` and ``gateway_url`` point discord.py here."""

    def __init__(self, api: FakeDiscordAPI | None = None):
        self.api = api or FakeDiscordAPI()
        self.port = 0
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self.disconnected = asyncio.Event()     # set when an identified bot's gateway socket closes
        self.identify_count = 0
        self.closed_codes: list[int] = []
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.intents: int | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> "FakeDiscordServer":
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _json(status: int, data: Any) -> web.Response:
        if data is None:
            return web.Response(status=status)
        # discord.py parses JSON only for exactly this content type (json_response adds "; charset=utf-8").
        return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})

    async def _rest(self, request: web.Request) -> web.Response:
        body = None
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                raw = form.get("payload_json")
                body = json.loads(raw) if raw else None
            else:
                text = await request.text()
                body = json.loads(text) if text else None
        path = "/" + request.match_info["tail"]
        status, data = await self.api.handle(request.method, path, dict(request.query), body,
                                             request.headers.get("Authorization"))
        return self._json(status, data)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                if data["d"].get("token") != self.api.token:
                    self.closed_codes.append(4004)
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self.identify_count += 1
                self.intents = data["d"].get("intents")
                self.sockets.append(ws)
                await self._send(ws, "READY", ready_payload(self.gateway_url))
                await self._send(ws, "GUILD_CREATE", guild_create_payload())
                self.identified.set()
            elif op == 6:  # RESUME: this fake has no session to resume
                await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
        if ws in self.sockets:
            self.sockets.remove(ws)
            self.disconnected.set()
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict) -> None:
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def dispatch(self, event: str, data: dict) -> None:
        """Push one event to the connected bot (tracking an interaction's deadline from now)."""
        if event == "INTERACTION_CREATE":
            self.api.track(data)
        if not self.sockets:
            raise RuntimeError("no bot is connected to the fake gateway")
        await self._send(self.sockets[-1], event, data)
