"""A local stand-in for Slack: a Web API server that records every call and implements the
methods clipbot uses (files upload v2 included), plus signed request builders for driving the
real Bolt app the way Slack would."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
TEAM = "T0TEAM"
BOT_USER = "U0CLIPBOT"
BOT_ID = "B0CLIPBOT"
ALICE = "U0ALICE"
BOB = "U0BOB"
CHANNEL = "C0GENERAL"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass
class FakeSlack:
    """Records calls; ``fail(method, channel, error)`` makes a method answer ``ok: false``."""

    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    """Socket Mode: what the fake sends each client that connects."""
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def hook_url(self, name: str = "cmd") -> str:
        return f"{self.base_url}/hook/{name}"

    def fail(self, method: str, channel: str, error: str) -> None:
        self.failures[(method, channel)] = error

    def called(self, method: str) -> list[dict[str, Any]]:
        return [call.args for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Messages (posted, edited, file shares) in a thread, oldest first."""
        return [
            message
            for message in self.messages.values()
            if message["channel"] == channel and message.get("thread_ts") == thread_ts
        ]

    async def wait_for(self, condition: Callable[[], object], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/hook/{name}", self._hook)
        app.router.add_get("/socket", self._socket)
        return app

    # -- handlers ----------------------------------------------------------------------------

    def _ts(self) -> str:
        return f"1700000000.{next(self._counter):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update((await request.post()).items())
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(method, args, auth.removeprefix("Bearer ") or None))
        try:
            channel = str(args.get("channel") or args.get("channel_id") or "")
            if error := self.failures.get((method, channel)):
                return web.json_response({"ok": False, "error": error})
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            body = handler(args) if handler else {}
            if "error" in body:
                return web.json_response({"ok": False, **body})
            return web.json_response({"ok": True, **body})
        finally:
            self._changed.set()

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        self._changed.set()
        return web.Response(text=f"OK - {len(self.uploads[file_id])}")

    async def _hook(self, request: web.Request) -> web.Response:
        self.hooks.append(await request.json())
        self._changed.set()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: send the envelopes, then record the client's acknowledgements."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        for envelope in self.envelopes:
            await socket.send_json(envelope)
        async for frame in socket:
            if frame.type is WSMsgType.TEXT:
                self.socket_acks.append(json.loads(frame.data))
                self._changed.set()
        return socket

    # -- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://clipbot-test.slack.com/",
            "team": "Test",
            "user": "clipbot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "ws" + self.base_url.removeprefix("http") + "/socket"}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._ts()
        message = {
            "ts": ts,
            "channel": args["channel"],
            "thread_ts": args.get("thread_ts"),
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
        }
        self.messages[ts] = message
        return {"channel": args["channel"], "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(args["ts"])
        if message is None or message["channel"] != args["channel"]:
            return {"error": "message_not_found"}
        message.update(text=args.get("text", ""), blocks=args.get("blocks") or [])
        return {"channel": args["channel"], "ts": args["ts"]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._ts()}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._counter):06d}"
        self.files[file_id] = {"id": file_id, "name": args["filename"], "size": int(args["length"])}
        return {"file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        """Like Slack: the files are shared into the channel (thread) by a message of their
        own whose ts the answer does not carry; ``files.info`` shows it afterwards."""
        done = []
        for item in json.loads(args["files"]):
            file = self.files[item["id"]]
            if file["id"] not in self.uploads:
                return {"error": "upload_not_found"}
            file["title"] = item.get("title")
            done.append({"id": file["id"], "title": file["title"], "name": file["name"]})
            channel = args.get("channel_id")
            if channel:
                ts = self._ts()
                self.messages[ts] = {
                    "ts": ts,
                    "channel": channel,
                    "thread_ts": args.get("thread_ts"),
                    "text": args.get("initial_comment", ""),
                    "files": [file["id"]],
                }
                share = {"ts": ts, "thread_ts": args.get("thread_ts")}
                file["shares"] = {"public": {channel: [share]}}
        return {"files": done}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(args["file"])
        return {"file": file} if file else {"error": "file_not_found"}

    def _files_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.pop(args["file"], None)
        if file is None:
            return {"error": "file_not_found"}
        for message in list(self.messages.values()):
            if file["id"] in message.get("files", []):
                del self.messages[message["ts"]]
        return {}


# -- what Slack sends ------------------------------------------------------------------------

_event_ids = itertools.count(1)


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0CLIPBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def mention(
    text: str, *, user: str = ALICE, channel: str = CHANNEL, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event)


def reaction(name: str, *, user: str, channel: str = CHANNEL, ts: str) -> dict[str, Any]:
    return event_callback(
        {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item_user": BOT_USER,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
    )


def slash_command(
    text: str, *, response_url: str, user: str = ALICE, channel: str = CHANNEL
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "channel_id": channel,
        "user_id": user,
        "user_name": user.lower(),
        "command": "/video",
        "text": text,
        "api_app_id": "A0CLIPBOT",
        "response_url": response_url,
        "trigger_id": "123.456.abc",
    }


def button(action_id: str, job_id: str, *, user: str, message: dict[str, Any]) -> dict[str, str]:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0CLIPBOT",
        "token": "legacy-verification-token",
        "team": {"id": TEAM, "domain": "test"},
        "channel": {"id": message["channel"], "name": "general"},
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
        },
        "message": {
            "type": "message",
            "ts": message["ts"],
            "thread_ts": message.get("thread_ts"),
            "text": message["text"],
            "user": BOT_USER,
        },
        "response_url": "https://hooks.invalid/actions/1",
        "trigger_id": "123.456.def",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": job_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return {"payload": json.dumps(payload)}


def encode(body: dict[str, Any]) -> tuple[str, str]:
    """Raw body and content type, as Slack sends this kind of request."""
    if "event" in body:
        return json.dumps(body), "application/json"
    return urllib.parse.urlencode(body), "application/x-www-form-urlencoded"


def signed_headers(
    raw: str,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry: int | None = None,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "content-type": content_type,
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": str(
            SignatureVerifier(secret).generate_signature(timestamp=stamp, body=raw)
        ),
    }
    if retry is not None:
        headers["x-slack-retry-num"] = str(retry)
        headers["x-slack-retry-reason"] = "http_timeout"
    return headers


def bolt_request(body: dict[str, Any], **header_options: Any) -> AsyncBoltRequest:
    raw, content_type = encode(body)
    headers = signed_headers(raw, content_type, **header_options)
    return AsyncBoltRequest(body=raw, headers={name: [value] for name, value in headers.items()})
