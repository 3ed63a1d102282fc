"""A local stand-in for Discord: a REST API that records every request and a gateway that
says HELLO/READY and then sends whatever raw dispatch payloads a test gives it. discord.py
talks to it unchanged (``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` point here)."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

APP_ID = 1000
BOT_ID = 1001
GUILD_ID = 2000
MOD_ROLE_ID = 2001
CHANNEL_ID = 3000
NSFW_CHANNEL_ID = 3001
OTHER_CHANNEL_ID = 3002
ALICE = 4000
BOB = 4001
MANAGE_MESSAGES = 1 << 13
EVERYONE = (1 << 6) | (1 << 10) | (1 << 11) | (1 << 16)
"""Add reactions, view channel, send messages, read history: what members of a server usually
have (discord.py grants nothing in a channel to someone who cannot view it)."""
DISCORD_EPOCH_MS = 1420070400000

Json = dict[str, Any]


def snowflake(at: float | None = None) -> int:
    """An id whose embedded time is ``at`` (default now), as Discord makes them."""
    ms = int((time.time() if at is None else at) * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | next(_counter)


_counter = itertools.count(1)


def user(user_id: int, name: str, *, bot: bool = False) -> Json:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


BOT_USER = user(BOT_ID, "clipbot", bot=True)


def member(user_id: int, name: str, *, moderator: bool = False) -> Json:
    return {
        "user": user(user_id, name),
        "roles": [str(MOD_ROLE_ID)] if moderator else [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(MANAGE_MESSAGES if moderator else 0),
    }


def text_channel(channel_id: int, *, nsfw: bool = False) -> Json:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": f"clips-{channel_id}",
        "position": 0,
        "nsfw": nsfw,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
    }


def guild_create() -> Json:
    return {
        "id": str(GUILD_ID),
        "name": "clip club",
        "owner_id": "1",
        "unavailable": False,
        "premium_tier": 0,
        "member_count": 3,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            {"id": str(GUILD_ID), "name": "@everyone", "permissions": str(EVERYONE), "position": 0},
            {"id": str(MOD_ROLE_ID), "name": "mods", "permissions": str(MANAGE_MESSAGES)},
        ],
        "channels": [
            text_channel(CHANNEL_ID),
            text_channel(NSFW_CHANNEL_ID, nsfw=True),
            text_channel(OTHER_CHANNEL_ID),
        ],
        "threads": [],
        "members": [],
        "voice_states": [],
        "presences": [],
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def content(self) -> str | None:
        return (self.json or {}).get("content") if isinstance(self.json, dict) else None

    @property
    def custom_ids(self) -> list[str]:
        rows = (self.json or {}).get("components") or []
        return [item["custom_id"] for row in rows for item in row.get("components", [])]


@dataclass
class Throttle:
    """Answer the next request matching ``method`` and ``pattern`` with a 429."""

    method: str
    pattern: re.Pattern[str]
    retry_after: float


class FakeDiscord:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.expired_tokens: set[str] = set()
        self.deleted_messages: set[str] = set()
        """Message ids that REST calls on (edit, reply, delete) answer with Unknown Message."""
        self.channels: dict[str, Json] = {c["id"]: c for c in guild_create()["channels"]}
        """What ``GET /channels/{id}`` finds: the server's channels, and threads a test adds
        (the gateway announces none, so discord.py has not cached them)."""
        self.posted: dict[str, Request] = {}
        """Channel messages the bot posted, by the id they were given."""
        self.throttles: list[Throttle] = []
        self.identified = asyncio.Event()
        self._changed = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 2**20)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- what a test does -----------------------------------------------------------------------

    async def dispatch(self, event: str, data: Json) -> None:
        assert self._ws is not None, "the bot has not connected to the gateway"
        await self._ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})

    def throttle(self, method: str, pattern: str, retry_after: float) -> None:
        self.throttles.append(Throttle(method, re.compile(pattern), retry_after))

    def matching(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0) -> Any:
        async with asyncio.timeout(timeout), self._changed:
            while not (value := condition()):
                await self._changed.wait()
        return value

    # -- gateway ------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}, "s": None, "t": None})
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            if payload["op"] == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif payload["op"] == 2:
                await self.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                        "session_id": "session",
                        "resume_gateway_url": self.gateway_url,
                        "application": {"id": str(APP_ID), "flags": 0},
                    },
                )
                await self.dispatch("GUILD_CREATE", guild_create())
                self.identified.set()
        return ws

    # -- REST ---------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        recorded = Request(request.method, path, dict(request.query))
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                assert isinstance(part, BodyPartReader)
                body = await part.read()
                if part.name == "payload_json":
                    recorded.json = json.loads(body)
                else:
                    recorded.files[str(part.name)] = (str(part.filename), bytes(body))
        elif request.can_read_body:
            recorded.json = await request.json()
        async with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        for throttle in self.throttles:
            if throttle.method == request.method and throttle.pattern.search(path):
                self.throttles.remove(throttle)
                return _json(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": throttle.retry_after,
                        "global": False,
                    },
                    status=429,
                    headers={
                        "Via": "1.1 google",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(throttle.retry_after),
                        "X-RateLimit-Bucket": "edits",
                    },
                )
        return self._answer(recorded)

    def _answer(self, r: Request) -> web.StreamResponse:
        parts = r.path.strip("/").split("/")
        if r.path == "/users/@me":
            return _json(BOT_USER)
        if r.path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": str(APP_ID),
                    "name": "clipbot",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": user(1, "owner"),
                    "verify_key": "00",
                    "flags": 0,
                }
            )
        if parts[0] == "applications" and r.method == "PUT":
            commands = [
                {**command, "id": str(snowflake()), "application_id": str(APP_ID), "version": "1"}
                for command in r.json
            ]
            return _json(commands)
        if parts[0] == "interactions":
            return self._callback(parts[1], r)
        if self._names_deleted_message(r):
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if parts[0] == "webhooks" and parts[2] in self.expired_tokens:
            return _json({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        if r.method == "DELETE":
            return web.Response(status=204)
        if parts[0] == "channels" and len(parts) == 2 and r.method == "GET":
            if parts[1] in self.channels:
                return _json(self.channels[parts[1]])
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        if parts[0] == "webhooks":
            message_id = parts[4] if len(parts) > 4 else str(snowflake())
            return _json(self._message(message_id, CHANNEL_ID, r, webhook=True))
        if parts[0] == "channels" and len(parts) >= 3 and parts[2] == "messages":
            if len(parts) > 3:
                message_id = parts[3]
            else:
                message_id = str(snowflake())
                self.posted[message_id] = r
            return _json(self._message(message_id, int(parts[1]), r))
        return _json({"message": f"unknown route {r.method} {r.path}", "code": 0}, status=404)

    def _names_deleted_message(self, r: Request) -> bool:
        """A request on a deleted message, by its path or as the message a reply refers to."""
        if any(part in self.deleted_messages for part in r.path.strip("/").split("/")):
            return True
        body = r.json if isinstance(r.json, dict) else {}
        reference = body.get("message_reference") or {}
        return str(reference.get("message_id")) in self.deleted_messages

    def _callback(self, interaction_id: str, r: Request) -> web.Response:
        kind = r.json["type"]
        answer: Json = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((r.json.get("data") or {}).get("flags", 0) & 64),
            },
            "resource": {"type": kind},
        }
        if kind in (4, 5):
            answer["interaction"]["response_message_id"] = str(snowflake())
        return _json(answer)

    def clip_message(self, message_id: str, job_id: str) -> Json:
        """A clip message the bot posted earlier with its three buttons, as a button
        interaction carries it (discord.py rebuilds the pressed item from it)."""
        buttons = [
            {"type": 2, "style": 2, "label": action, "custom_id": f"clipbot:{action}:{job_id}"}
            for action in ("regenerate", "vary", "cancel")
        ]
        posted = Request("GET", "", {}, json={"components": [{"type": 1, "components": buttons}]})
        return self._message(message_id, CHANNEL_ID, posted)

    @staticmethod
    def _message(message_id: str, channel_id: int, r: Request, *, webhook: bool = False) -> Json:
        body = r.json if isinstance(r.json, dict) else {}
        return {
            "id": message_id,
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": str(snowflake()),
                    "filename": name,
                    "size": len(data),
                    "url": "http://x/y",
                    "proxy_url": "http://x/y",
                }
                for name, data in r.files.values()
            ],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": body.get("components") or [],
            **({"webhook_id": str(APP_ID)} if webhook else {}),
        }


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses a body as JSON only for exactly this content type (no charset).
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# -- raw gateway payloads ---------------------------------------------------------------------


def interaction(
    kind: int,
    data: Json,
    *,
    who: Json,
    channel_id: int = CHANNEL_ID,
    at: float | None = None,
    message: Json | None = None,
    size_limit: int = 10 * 2**20,
) -> Json:
    payload: Json = {
        "id": str(snowflake(at)),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"token-{next(_counter)}",
        "version": 1,
        "guild_id": str(GUILD_ID),
        "channel_id": str(channel_id),
        "channel": text_channel(channel_id, nsfw=channel_id == NSFW_CHANNEL_ID),
        "member": who,
        "data": data,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": str(2**40 - 1),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "context": 0,
        "attachment_size_limit": size_limit,
    }
    if message is not None:
        payload["message"] = message
    return payload


def slash(name: str, who: Json, **options: Any) -> Json:
    return interaction(
        2,
        {
            "id": "9",
            "name": name,
            "type": 1,
            "options": [
                {"name": key, "type": _option_type(value), "value": value}
                for key, value in options.items()
            ],
        },
        who=who,
    )


def _option_type(value: Any) -> int:
    return 4 if isinstance(value, int) else 3


def reaction(
    message_id: str, emoji: str, who: Json, user_id: int, *, channel_id: int = CHANNEL_ID
) -> Json:
    return {
        "user_id": str(user_id),
        "channel_id": str(channel_id),
        "message_id": message_id,
        "guild_id": str(GUILD_ID),
        "emoji": {"id": None, "name": emoji},
        "member": who,
        "burst": False,
        "type": 0,
    }
