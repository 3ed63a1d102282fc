"""The Slack adapter: a slack-bolt ``AsyncApp`` over the shared core.

Users mention the bot (``@clipbot a fox in snow --seed 7``) or type ``/video ...``; the
listeners only screen and queue the prompt (answering errors ephemerally), then everything the
user sees about the job arrives through ``deliver``: a status message in the thread, edited as
the job moves, then the clip uploaded with the files upload v2 flow.

Which message is "the clip" for reactions: ``files.completeUploadExternal`` does not return the
ts of the message that shares the file (Slack posts it asynchronously), so the status message
becomes the result message, with Block Kit buttons, and ``deliver`` returns its ts for Delivery
to link. The file-share message is linked too, best effort, once ``files.info`` lists its share.

Slack state per job (status and thread ts, uploaded file id) lives in one Redis hash, so a
restart or a second bot process carries on where the first left off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, cast

from aiohttp import ClientError, web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from clipbot.bot import slack_messages as messages
from clipbot.bot.core import BotCore
from clipbot.bot.delivery import ClipFile
from clipbot.config import Settings
from clipbot.errors import ClipbotError, ConfigError, QueueUnavailable, UnknownJob
from clipbot.models import REACTION_ACTIONS, TERMINAL_EVENTS, Action, EventKind, JobEvent, Origin
from clipbot.queue import keys

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLASH_COMMAND = "/video"
EVENT_SEEN_TTL_S = 3600
"""Slack retries an event three times within about five minutes; an hour covers them all."""
EVENT_CLAIM_TTL_S = 60
"""How long a delivery being handled holds its event: far longer than handling takes, short
enough that a bot killed meanwhile does not turn Slack's later retries away for long."""
LAST_RETRY = 3
"""``X-Slack-Retry-Num`` of Slack's last delivery of an event."""
_HANDLED = b"handled"
SHARE_LOOKUPS_S = (0.5, 1.0, 2.0, 4.0)
"""Pauses between ``files.info`` calls while waiting for Slack to post the file's message."""

UNREACHABLE_ERRORS = {
    "not_in_channel": "I'm not in this channel. Invite me with `/invite @clipbot` and try again.",
    "channel_not_found": "I can't see this channel. Invite me with `/invite @clipbot` first.",
    "is_archived": "This channel is archived, so I can't post the clip here.",
    "restricted_action": "This workspace does not let me post here.",
    "missing_scope": "I'm missing a Slack permission; ask an admin to reinstall the app.",
    "not_authed": "My Slack token is not valid; ask an admin to check the bot's setup.",
    "invalid_auth": "My Slack token is not valid; ask an admin to check the bot's setup.",
    "account_inactive": "My Slack token was revoked; ask an admin to reinstall the app.",
    "token_revoked": "My Slack token was revoked; ask an admin to reinstall the app.",
}
"""Web API errors that trying again will not fix: the job's answer cannot be posted there."""
TOKEN_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
    }
)
"""Web API errors meaning the token itself is wrong (not Slack or the network being down)."""
_GONE_ERRORS = {"message_not_found", "cant_update_message", "file_not_found", "file_deleted"}


def _event_seen_key(event_id: str) -> str:
    return f"{keys.PREFIX}:slack:event:{event_id}"


def _job_state_key(job_id: str) -> str:
    return f"{keys.PREFIX}:slack:job:{job_id}"


def _error_code(error: SlackApiError) -> str:
    """Slack's error code (``not_in_channel``), or the HTTP status when the answer was not
    Slack's JSON (a proxy's error page)."""
    data = error.response.data
    if isinstance(data, dict):
        return str(data.get("error", "unknown_error"))
    return f"http_{error.response.status_code}"


class SlackAdapter:
    platform = "slack"

    def __init__(
        self,
        core: BotCore,
        settings: Settings,
        *,
        http_port: int | None = None,
    ) -> None:
        if settings.slack_bot_token is None:
            raise ConfigError("CLIPBOT_SLACK_BOT_TOKEN is required to run the Slack bot")
        signing_secret = settings.slack_signing_secret
        if http_port is not None and signing_secret is None:
            raise ConfigError(
                "CLIPBOT_SLACK_SIGNING_SECRET is required for HTTP mode (--slack-http-port)"
            )
        if http_port is None and settings.slack_app_token is None:
            raise ConfigError(
                "CLIPBOT_SLACK_APP_TOKEN is required for Socket Mode "
                "(or serve HTTP with --slack-http-port and CLIPBOT_SLACK_SIGNING_SECRET)"
            )
        self.core = core
        self.settings = settings
        self.http_port = http_port
        self.state_ttl_s = settings.result_ttl_s
        self.client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=_api_base(settings.slack_api_url),
        )
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        self.app = AsyncApp(
            name="clipbot",
            client=self.client,
            signing_secret=signing_secret.get_secret_value() if signing_secret else None,
            # Socket Mode requests come over an authenticated WebSocket, not signed HTTP.
            request_verification_enabled=signing_secret is not None,
            # Slack gets its answer once the listener returns: an event that failed on our
            # side is answered 500 and delivered again. Commands and buttons ack() and then
            # go on in the background.
            process_before_response=True,
        )
        self.app.use(self._once_per_event)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.command(SLASH_COMMAND)(self._on_command)
        self.app.action(re.compile(f"^{messages.ACTION_PREFIX}"))(self._on_button)
        self.ready = asyncio.Event()
        """Set once the adapter is connected (Socket Mode) or listening (HTTP mode)."""
        self.http_address: tuple[str, int] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- serving -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve Slack until cancelled: HTTP mode when a port was given, else Socket Mode."""
        await self._check_tokens()
        try:
            if self.http_port is not None:
                await self._serve_http(self.http_port)
            else:
                await self._serve_socket_mode()
        finally:
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _check_tokens(self) -> None:
        """Stop at once, with one line naming the setting, when Slack refuses a token: else a
        bad bot token fails every request later, and Socket Mode retries a bad app token
        forever with a traceback each time."""
        await _check_token(
            self.client.auth_test(),
            "CLIPBOT_SLACK_BOT_TOKEN",
            "it must be the Bot User OAuth Token (xoxb-…) of the app installed in the workspace",
        )
        if self.http_port is None:
            await _check_token(
                self.client.apps_connections_open(app_token=self._app_token()),
                "CLIPBOT_SLACK_APP_TOKEN",
                "it must be an app-level token (xapp-…) with the connections:write scope",
            )

    def _app_token(self) -> str:
        assert self.settings.slack_app_token is not None  # checked in __init__
        return self.settings.slack_app_token.get_secret_value()

    async def _serve_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.app, self._app_token(), web_client=self.client)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack: connected in Socket Mode")
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def _serve_http(self, port: int) -> None:
        server = AsyncSlackAppServer(port=port, path=EVENTS_PATH, app=self.app)
        runner = web.AppRunner(server.web_app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.slack_http_host, port)
            await site.start()
            host, bound_port = runner.addresses[0][:2]
            self.http_address = (host, bound_port)
            log.info("Slack: serving events at http://%s:%d%s", host, bound_port, EVENTS_PATH)
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    # -- incoming requests -------------------------------------------------------------------

    async def _once_per_event(
        self, body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        """Global middleware: Slack re-sends an event it got no 2xx for (with
        ``X-Slack-Retry-Num``). A delivery claims its event in Redis while it is handled, and
        ``_handling`` marks it handled or releases it. A repeat of a handled event is answered
        200 and dropped, so a prompt or a reaction is never acted on twice; a repeat while
        another delivery still holds the claim is answered 503, so that Slack tries again
        later rather than the event being lost should that delivery fail. Keyed in Redis, so it
        holds across restarts and bot processes."""
        event_id = body.get("event_id")
        if body.get("type") != "event_callback" or not isinstance(event_id, str):
            return await next()
        key = _event_seen_key(event_id)
        if await self.core.redis.set(key, "handling", nx=True, ex=EVENT_CLAIM_TTL_S):
            return await next()
        if await self.core.redis.get(key) == _HANDLED:
            log.info("Slack: ignoring repeated delivery of event %s", event_id)
            return BoltResponse(status=200, body="")
        log.info("Slack: event %s is being handled; Slack will deliver it again", event_id)
        return BoltResponse(status=503, body="")

    @contextlib.asynccontextmanager
    async def _handling(
        self, body: dict[str, Any], request: AsyncBoltRequest, origin: Origin
    ) -> AsyncIterator[None]:
        """One delivery of an event claimed by ``_once_per_event``. Done (refusals are told
        inside): the event is marked handled. Failed on our side (the queue unreachable, a
        bug): the claim is released and the error propagates, so Bolt answers 500 and Slack's
        retry is handled afresh; the user is told only when Slack has no retry left."""
        key = _event_seen_key(body["event_id"])
        try:
            yield
        except Exception as error:
            await self.core.redis.delete(key)
            if _retry_num(request) >= LAST_RETRY:
                await self._tell(origin, messages.failure(error))
            raise
        await self.core.redis.set(key, _HANDLED, ex=EVENT_SEEN_TTL_S)

    async def _on_mention(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        context: AsyncBoltContext,
        request: AsyncBoltRequest,
    ) -> None:
        origin = Origin(
            platform="slack",
            channel=event["channel"],
            user=event["user"],
            workspace=body.get("team_id") or event.get("team"),
            thread=event.get("thread_ts") or event["ts"],
            message=event["ts"],
        )
        text = messages.prompt_from_mention(event.get("text", ""), context.bot_user_id)
        async with self._handling(body, request, origin):
            try:
                await self.core.submit_text(text, origin)
            except QueueUnavailable:
                raise
            except ClipbotError as error:
                await self._tell(origin, str(error))

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()  # within Slack's 3 seconds, before moderation and Redis
        origin = Origin(
            platform="slack",
            channel=command["channel_id"],
            user=command["user_id"],
            user_name=command.get("user_name"),
            workspace=command.get("team_id"),
            reply={"response_url": command["response_url"]},
        )
        self._spawn(self._submit_command(messages.unescape(command.get("text", "")), origin))

    async def _submit_command(self, text: str, origin: Origin) -> None:
        try:
            await self.core.submit_text(text, origin)
        except ClipbotError as error:
            await self._tell(origin, str(error))
        except Exception:
            log.exception("Slack: a /video command in %s could not be queued", origin.channel)
            await self._tell(origin, messages.FAILED)

    async def _on_reaction(
        self, body: dict[str, Any], event: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        """Bolt already drops reactions the bot itself added (its ignoring-self-events
        middleware compares ``event.user`` with the bot's user id)."""
        action = REACTION_ACTIONS.get(event.get("reaction", ""))
        item = event.get("item", {})
        if action is None or item.get("type") != "message":
            return  # not for us; its claim simply expires
        actor = Origin(
            platform="slack",
            channel=item["channel"],
            user=event["user"],
            workspace=body.get("team_id"),
        )
        async with self._handling(body, request, actor):
            try:
                job_id = await self.core.job_for_message(actor, item["ts"])
            except UnknownJob:
                return  # a reaction on some other message: not for us
            await self._act(action, job_id, actor)

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        actor = Origin(
            platform="slack",
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            workspace=(body.get("team") or {}).get("id"),
            thread=(body.get("message") or {}).get("thread_ts"),
        )
        chosen = Action(action["action_id"].removeprefix(messages.ACTION_PREFIX))
        self._spawn(self._press(chosen, action["value"], actor))

    async def _press(self, action: Action, job_id: str, actor: Origin) -> None:
        """A button, after its ack: a failure has no retry to wait for, so it is told."""
        try:
            await self._act(action, job_id, actor)
        except Exception as error:
            log.exception("Slack: %s of job %s failed", action, job_id)
            await self._tell(actor, messages.failure(error))

    async def _act(self, action: Action, job_id: str, actor: Origin) -> None:
        """A reaction or a button: regenerate or vary into the clip's thread, or cancel (which,
        for a finished clip, deletes it). Refusals, Slack's included, are told to the user in
        the clip's thread; failures on our side propagate."""
        state = await self._state(job_id)
        actor = actor.model_copy(update={"thread": state.get("thread_ts") or actor.thread})
        try:
            if action is Action.CANCEL:
                record = await self.core.cancel(job_id, actor)
                if record.status is EventKind.DONE:
                    await self._delete_clip(job_id, state, actor)
            else:
                await self.core.act(action, job_id, actor)
        except QueueUnavailable:
            raise
        except ClipbotError as error:
            await self._tell(actor, str(error))
        except SlackApiError as error:
            log.error("Slack: %s of job %s failed: %s", action, job_id, _error_code(error))
            await self._tell(actor, "Slack refused that; it is in the bot's log.")

    async def _delete_clip(self, job_id: str, state: dict[str, str], actor: Origin) -> None:
        if file_id := state.get("file_id"):
            with contextlib.suppress(SlackApiError):  # already deleted by hand
                await self.client.files_delete(file=file_id)
        if status_ts := state.get("status_ts"):
            text = messages.deleted_text(actor.user)
            await self.client.chat_update(
                channel=actor.channel, ts=status_ts, text=text, blocks=messages.text_blocks(text)
            )

    # -- outgoing: the delivery sink ----------------------------------------------------------

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        """Show one job event. Errors Slack would repeat (the bot is not in the channel, ...)
        are logged and told to the requester where possible, and the job is cancelled; other
        errors propagate so that Delivery tries again later."""
        state = await self._state(event.job_id)
        if "unreachable" in state:
            return None  # already reported; nothing for this job can be shown there
        try:
            if event.kind is EventKind.DONE and clip is not None:
                return await self._deliver_clip(event, clip, state)
            await self._show_status(
                event, state, messages.status_text(event), messages.status_blocks(event)
            )
            return None
        except SlackApiError as error:
            code = _error_code(error)
            if code not in UNREACHABLE_ERRORS:
                raise
            log.error(
                "Slack: cannot show %s of job %s in channel %s: %s",
                event.kind,
                event.job_id,
                event.origin.channel,
                code,
            )
            await self._save_state(event.job_id, {"unreachable": code})
            await self._tell(event.origin, UNREACHABLE_ERRORS[code])
            if event.kind not in TERMINAL_EVENTS:
                with contextlib.suppress(ClipbotError):
                    await self.core.cancel(event.job_id, event.origin)
            return None

    async def _show_status(
        self, event: JobEvent, state: dict[str, str], text: str, blocks: list[dict[str, Any]]
    ) -> str:
        """Edit the job's status message, posting it first if there is none (or it is gone).
        A /video command has no thread: its status message starts one."""
        channel = event.origin.channel
        if status_ts := state.get("status_ts"):
            try:
                await self.client.chat_update(
                    channel=channel, ts=status_ts, text=text, blocks=blocks
                )
                return status_ts
            except SlackApiError as error:
                if _error_code(error) not in _GONE_ERRORS:
                    raise
        thread = event.origin.thread or state.get("thread_ts")
        response = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread, text=text, blocks=blocks
        )
        status_ts = str(response["ts"])
        update = {"status_ts": status_ts, "thread_ts": thread or status_ts}
        await self._save_state(event.job_id, update)
        state.update(update)
        return status_ts

    async def _deliver_clip(self, event: JobEvent, clip: ClipFile, state: dict[str, str]) -> str:
        """Upload the clip into the thread (once, even when Delivery retries this event), then
        turn the status message into the result message with the action buttons."""
        channel = event.origin.channel
        thread = event.origin.thread or state.get("thread_ts")
        if thread is None:  # the status message never made it: start the thread now
            text = messages.status_text(event)
            thread = await self._show_status(event, state, text, messages.text_blocks(text))
        if "file_id" not in state:
            upload = await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread,
                file=clip.data,
                filename=clip.filename,
                title=event.request.prompt[:250],
                initial_comment=messages.upload_comment(event, clip),
            )
            file_id = str(upload["file"]["id"])
            await self._save_state(event.job_id, {"file_id": file_id})
            self._spawn(self._link_file_message(event, file_id, upload["file"]))
        return await self._show_status(
            event, state, messages.result_text(event, clip), messages.result_blocks(event, clip)
        )

    async def _link_file_message(
        self, event: JobEvent, file_id: str, uploaded: dict[str, Any]
    ) -> None:
        """Best effort: find the message Slack posted for the file, so reactions on the clip
        itself work too. Slack adds the share a moment after the upload completes."""
        file = uploaded
        for pause in (0.0, *SHARE_LOOKUPS_S):
            await asyncio.sleep(pause)
            if pause:
                try:
                    file = (await self.client.files_info(file=file_id))["file"]
                except SlackApiError as error:
                    log.warning("Slack: files.info %s failed: %s", file_id, _error_code(error))
                    return
                except (ClientError, TimeoutError) as error:
                    log.warning("Slack: files.info %s failed: %r", file_id, error)
                    return
            if ts := _share_ts(file, event.origin.channel):
                await self.core.link_message(event.origin, ts, event.job_id)
                return
        log.info("Slack: no share of file %s seen; the result message still works", file_id)

    # -- helpers -----------------------------------------------------------------------------

    async def _tell(self, origin: Origin, text: str) -> None:
        """An ephemeral note to one user: through a slash command's response URL when there is
        one (it works even in channels the bot is not in), else ``chat.postEphemeral``."""
        try:
            if response_url := origin.reply.get("response_url"):
                await AsyncWebhookClient(response_url).send(
                    text=text, response_type="ephemeral", replace_original=False
                )
            else:
                await self.client.chat_postEphemeral(
                    channel=origin.channel, user=origin.user, thread_ts=origin.thread, text=text
                )
        except (SlackApiError, ClientError, TimeoutError) as error:
            log.warning("Slack: could not tell %s in %s: %s", origin.user, origin.channel, error)

    async def _state(self, job_id: str) -> dict[str, str]:
        pending = self.core.redis.hgetall(_job_state_key(job_id))
        raw = await cast("Awaitable[dict[bytes, bytes]]", pending)
        return {key.decode(): value.decode() for key, value in raw.items()}

    async def _save_state(self, job_id: str, values: dict[str, str]) -> None:
        key = _job_state_key(job_id)
        async with self.core.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            pipe.expire(key, self.state_ttl_s)
            await pipe.execute()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _check_token(call: Awaitable[object], variable: str, expected: str) -> None:
    """Raise ``ConfigError`` if Slack refuses the token (never showing it). If Slack or the
    network is down, go on: the connection and the requests retry on their own."""
    try:
        await call
    except SlackApiError as error:
        code = _error_code(error)
        if code in TOKEN_ERRORS:
            raise ConfigError(f"Slack refused {variable} ({code}); {expected}") from None
        log.warning("Slack: could not check %s (%s); going on", variable, code)
    except (ClientError, TimeoutError) as error:
        log.warning("Slack: could not check %s (%r); going on", variable, error)


def _retry_num(request: AsyncBoltRequest) -> int:
    """Which of Slack's retries this delivery is; 0 for the first delivery."""
    return int(request.headers.get("x-slack-retry-num", ["0"])[0])


def _share_ts(file: dict[str, Any], channel: str) -> str | None:
    shares = file.get("shares") or {}
    for visibility in ("public", "private"):
        for share in (shares.get(visibility) or {}).get(channel) or []:
            if ts := share.get("ts"):
                return str(ts)
    return None


def _api_base(url: str | None) -> str:
    if url is None:
        return AsyncWebClient.BASE_URL
    return url if url.endswith("/") else url + "/"
