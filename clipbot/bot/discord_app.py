"""The Discord adapter: app commands, buttons and reactions in, status edits and clip uploads
out, on discord.py 2.x over the shared ``BotCore``.

A job's answer goes to one status message. For a slash command or a button press that is
the interaction's deferred response, edited through the interaction token (which Discord
honours for 15 minutes); for a reaction, a channel message the bot posts and edits. When the
token has expired, the clip is posted as a new channel message that mentions the requester.
Everything needed for that travels with the job in ``Origin.reply`` (see ``Reply``), so a
restarted bot answers jobs queued before the restart. Button custom ids carry the job id and
are parsed by a ``DynamicItem``, so buttons keep working across restarts too.

discord.py's HTTP layer paces requests by Discord's ``X-RateLimit-*`` headers and waits out
429s, so the adapter never sleeps on its own; ``Delivery`` already drops progress that a
newer event supersedes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import discord
import yarl
from discord import app_commands
from discord.app_commands import Choice

from clipbot.bot import discord_text as text
from clipbot.bot.core import BotCore, Submission
from clipbot.bot.delivery import ClipFile
from clipbot.config import Settings
from clipbot.errors import ClipbotError, ConfigError, UnknownJob
from clipbot.generator.presets import preset_names
from clipbot.models import (
    ASPECTS,
    DEFAULT_MAX_BYTES,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    REACTION_ACTIONS,
    TERMINAL_EVENTS,
    Action,
    EventKind,
    JobEvent,
    Origin,
    build_request,
)

log = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 30.0
"""Stop using an interaction token this long before Discord expires it."""
LENGTHS_S = (1, 2, 3, 5, 8, 10)
NOTICE_TTL_S = 20.0
"""How long a refusal answering a reaction stays in the channel (reactions have no
ephemeral replies): the default of ``DiscordAdapter.notice_ttl_s``."""
TOO_LARGE = 40005
GONE = frozenset({10008, 10015, 50027})
"""Unknown message, unknown webhook, invalid webhook token: the status message can no longer
be edited, so the answer goes to the channel instead."""


class Reply:
    """Keys this adapter keeps in ``Origin.reply``."""

    APP = "app"
    TOKEN = "token"
    TOKEN_AT = "token_at"
    STATUS = "status"
    LIMIT = "limit"


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls and gateway connection to a proxy or an emulator when
    configured. Both are class attributes, so this is process-wide (one Discord bot per
    process)."""
    if settings.discord_api_url:
        discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def intents() -> discord.Intents:
    """Guilds (channel and role cache for permissions) and reactions; no message content."""
    return discord.Intents(guilds=True, guild_reactions=True)


class ClipClient(discord.Client):
    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(intents=intents(), allowed_mentions=discord.AllowedMentions.none())
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(video)
        self.tree.add_command(queue)
        self.tree.add_command(cancel)
        self.tree.on_error = self.on_command_error  # type: ignore[method-assign]

    async def on_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A bug or an outage, not a refusal (those are answered where they happen): log it
        and tell the user, rather than leave "thinking…" spinning."""
        log.error("/%s failed", interaction.command and interaction.command.name, exc_info=error)
        notice = "Something went wrong on our side; the details are in the bot's log."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(notice, ephemeral=True)
            else:
                await interaction.response.send_message(notice, ephemeral=True)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ClipButton)
        guild_ids = self.adapter.settings.discord_guild_ids
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        if not guild_ids:
            await self.tree.sync()
        self.adapter.ready_to_deliver()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)


class ClipButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"clipbot:(?P<action>regenerate|vary|cancel):(?P<job>[0-9a-f]{32})",
):
    """🔁 / 🔀 / ❌ under a clip (❌ also under a status message). The custom id carries the
    action and the job id, so a press after a restart still finds its job."""

    STYLES: ClassVar[dict[Action, tuple[str, str, discord.ButtonStyle]]] = {
        Action.REGENERATE: ("🔁", "Regenerate", discord.ButtonStyle.secondary),
        Action.VARY: ("🔀", "Vary", discord.ButtonStyle.secondary),
        Action.CANCEL: ("❌", "Delete", discord.ButtonStyle.danger),
    }

    def __init__(self, action: Action, job_id: str, label: str | None = None) -> None:
        emoji, default_label, style = self.STYLES[action]
        super().__init__(
            discord.ui.Button(
                emoji=emoji,
                label=label or default_label,
                style=style,
                custom_id=f"clipbot:{action.value}:{job_id}",
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> Self:
        return cls(Action(match["action"]), match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: ClipClient = interaction.client
        await client.adapter.on_button(interaction, self.action, self.job_id)


def clip_view(job_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in (Action.REGENERATE, Action.VARY, Action.CANCEL):
        view.add_item(ClipButton(action, job_id))
    return view


def status_view(job_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ClipButton(Action.CANCEL, job_id, label="Cancel"))
    return view


class DiscordAdapter:
    platform = "discord"

    def __init__(self, core: BotCore, settings: Settings) -> None:
        self.core = core
        self.settings = settings
        self.client = ClipClient(self)
        self.notice_ttl_s = NOTICE_TTL_S
        self._ready = asyncio.Event()

    def ready_to_deliver(self) -> None:
        self._ready.set()

    async def run(self) -> None:
        """Log in, sync the commands, serve the gateway until cancelled; close on the way out."""
        if self.settings.discord_token is None:
            raise ConfigError("CLIPBOT_DISCORD_TOKEN is not set")
        point_at(self.settings)
        async with self.client:
            await self.client.start(self.settings.discord_token.get_secret_value())

    # -- commands and buttons ----------------------------------------------------------------

    async def on_video(
        self,
        interaction: discord.Interaction[Any],
        prompt: str,
        *,
        negative: str | None,
        seed: int | None,
        aspect: str | None,
        length: int | None,
        model: str | None,
    ) -> None:
        if not await self._channel_allowed(interaction):
            return
        origin = await self._defer_public(interaction)
        fields: dict[str, object] = {"prompt": prompt, "max_bytes": int(origin.reply[Reply.LIMIT])}
        given = {"negative_prompt": negative, "seed": seed, "aspect": aspect, "model": model}
        fields.update({name: value for name, value in given.items() if value is not None})
        if length is not None:
            fields["length_s"] = float(length)
        try:
            submission = await self.core.submit(build_request(**fields), origin)
        except ClipbotError as error:
            await self._refuse(interaction, str(error))
            return
        await self._link_status(origin, submission)

    async def on_button(
        self, interaction: discord.Interaction[Any], action: Action, job_id: str
    ) -> None:
        if action is Action.CANCEL:
            await self._cancel(interaction, job_id, interaction.message)
            return
        if not await self._channel_allowed(interaction):
            return
        origin = await self._defer_public(interaction)
        follow_up = self.core.regenerate if action is Action.REGENERATE else self.core.vary
        try:
            submission = await follow_up(job_id, origin)
        except ClipbotError as error:
            await self._refuse(interaction, str(error))
            return
        await self._link_status(origin, submission)

    async def on_queue(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.core.jobs_of(self._origin(interaction))
        await interaction.followup.send(text.queue_listing(jobs), ephemeral=True)

    async def on_cancel(self, interaction: discord.Interaction[Any], job: str | None) -> None:
        if job is None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            jobs = await self.core.jobs_of(self._origin(interaction))
            if not jobs:
                await interaction.followup.send(text.queue_listing(jobs), ephemeral=True)
                return
            job = jobs[-1][0].job_id  # the newest
        await self._cancel(interaction, job, None)

    async def _cancel(
        self, interaction: discord.Interaction[Any], job_id: str, message: discord.Message | None
    ) -> None:
        """Cancel a queued or running job; on a finished clip's ❌, delete the clip."""
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            record = await self.core.cancel(job_id, self._origin(interaction))
        except ClipbotError as error:
            await interaction.followup.send(str(error), ephemeral=True)
            return
        if record.status not in TERMINAL_EVENTS:
            note = "Cancel requested."
        elif message is not None:
            await message.delete()
            note = "Deleted."
        else:
            note = "That clip is already finished."
        await interaction.followup.send(note, ephemeral=True)

    async def model_choices(self, current: str) -> list[Choice[str]]:
        names = dict.fromkeys([*await self.core.models(), *preset_names()])
        wanted = current.casefold()
        return [Choice(name=n, value=n) for n in names if wanted in n.casefold()][:25]

    async def job_choices(self, interaction: discord.Interaction[Any]) -> list[Choice[str]]:
        jobs = await self.core.jobs_of(self._origin(interaction))
        return [
            Choice(name=text.job_label(record, position), value=record.job_id)
            for record, position in reversed(jobs)
        ][:25]

    async def _channel_allowed(self, interaction: discord.Interaction[Any]) -> bool:
        """Answer (ephemerally, at once) and return False outside the allowed channels."""
        if _allowed(self.settings.discord_channel_ids, interaction.channel_id, interaction.channel):
            return True
        await interaction.response.send_message(
            "clipbot does not make clips in this channel.", ephemeral=True
        )
        return False

    async def _defer_public(self, interaction: discord.Interaction[Any]) -> Origin:
        """Acknowledge at once with a public "thinking" message: that message becomes the
        job's status message and, when the clip is ready, the clip itself."""
        response = await interaction.response.defer(thinking=True)
        message_id = response.message_id if response is not None else None
        if message_id is None:
            message_id = (await interaction.original_response()).id
        return self._origin(
            interaction,
            {
                Reply.APP: str(interaction.application_id),
                Reply.TOKEN: interaction.token,
                Reply.TOKEN_AT: str(interaction.created_at.timestamp()),
                Reply.STATUS: str(message_id),
                Reply.LIMIT: str(interaction.filesize_limit),
            },
        )

    async def _refuse(self, interaction: discord.Interaction[Any], reason: str) -> None:
        """Replace the public "thinking" message with a reply only the requester sees (the
        first follow-up of a deferral would inherit its public visibility otherwise)."""
        await interaction.delete_original_response()
        await interaction.followup.send(reason, ephemeral=True)

    async def _link_status(self, origin: Origin, submission: Submission) -> None:
        """Let ❌ on the status message cancel the job while it is queued or rendering."""
        await self.core.link_message(origin, origin.reply[Reply.STATUS], submission.job_id)

    def _origin(
        self, interaction: discord.Interaction[Any], reply: dict[str, str] | None = None
    ) -> Origin:
        user = interaction.user
        return Origin(
            platform="discord",
            channel=str(interaction.channel_id),
            user=str(user.id),
            user_name=user.display_name,
            workspace=str(interaction.guild_id) if interaction.guild_id else None,
            age_restricted=_age_restricted(interaction.channel),
            can_moderate=interaction.permissions.manage_messages,
            reply=reply or {},
        )

    # -- reactions ---------------------------------------------------------------------------

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.client.user
        if me is None or payload.user_id == me.id:
            return
        if payload.member is not None and payload.member.bot:
            return
        action = REACTION_ACTIONS.get(str(payload.emoji))
        if action is None:
            return
        guild = self.client.get_guild(payload.guild_id) if payload.guild_id else None
        channel = await self._reaction_channel(guild, payload.channel_id)
        if not _allowed(self.settings.discord_channel_ids, payload.channel_id, channel):
            return
        actor = Origin(
            platform="discord",
            channel=str(payload.channel_id),
            user=str(payload.user_id),
            user_name=payload.member.display_name if payload.member else None,
            workspace=str(payload.guild_id) if payload.guild_id else None,
            age_restricted=_age_restricted(channel),
            can_moderate=_can_moderate(channel, payload.member),
        )
        try:
            job_id = await self.core.job_for_message(actor, str(payload.message_id))
        except UnknownJob:
            return  # a reaction on some other message
        messages = self.client.get_partial_messageable(
            payload.channel_id, guild_id=payload.guild_id
        )
        clip_message = messages.get_partial_message(payload.message_id)
        mention = f"<@{payload.user_id}>"
        status: discord.Message | None = None
        try:
            if action is Action.CANCEL:
                record = await self.core.cancel(job_id, actor)
                if record.status in TERMINAL_EVENTS:
                    await clip_message.delete()
                return
            status = await clip_message.reply(
                f"{mention} {payload.emoji} queuing…", mention_author=False
            )
            limit = guild.filesize_limit if guild else DEFAULT_MAX_BYTES
            origin = actor.model_copy(
                update={"reply": {Reply.STATUS: str(status.id), Reply.LIMIT: str(limit)}}
            )
            follow_up = self.core.regenerate if action is Action.REGENERATE else self.core.vary
            await self._link_status(origin, await follow_up(job_id, origin))
        except ClipbotError as error:
            notice = f"{mention} {error}"
            if status is not None:
                await status.edit(content=notice, delete_after=self.notice_ttl_s)
            else:
                await messages.send(notice, delete_after=self.notice_ttl_s)
        except discord.HTTPException as error:
            if error.code not in GONE:
                raise
            # deleted between the reaction and the answer: nothing to answer under
            log.info("reaction on message %s: it is gone (%s)", payload.message_id, error.code)

    async def _reaction_channel(
        self, guild: discord.Guild | None, channel_id: int
    ) -> discord.abc.GuildChannel | discord.Thread | discord.abc.PrivateChannel | None:
        """The channel or thread of a reaction: discord.py caches a server's channels, but
        a thread only once it has seen it active (not one archived before the bot started,
        say), so an unknown one is fetched. None when the bot cannot see it."""
        if guild is None:
            return None
        if (cached := guild.get_channel_or_thread(channel_id)) is not None:
            return cached
        try:
            return await self.client.fetch_channel(channel_id)
        except discord.HTTPException as error:
            log.info("reaction in channel %s, which the bot cannot see (%s)", channel_id, error)
            return None

    # -- delivery ----------------------------------------------------------------------------

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        await self._ready.wait()  # the HTTP session exists once logged in
        if event.kind is EventKind.DONE and clip is not None:
            return await self._deliver_clip(event, clip)
        content = text.status(event)
        if event.kind in TERMINAL_EVENTS:
            await self._final_text(event.origin, content)
        else:
            # Progress after the token expired is dropped: there is nothing left to edit.
            await self._edit_status(event.origin, content, view=status_view(event.job_id))
        return None

    async def _deliver_clip(self, event: JobEvent, clip: ClipFile) -> str | None:
        origin = event.origin
        limit = int(origin.reply.get(Reply.LIMIT, DEFAULT_MAX_BYTES))
        if len(clip.data) > limit:
            await self._final_text(origin, text.too_big(len(clip.data), limit))
            return None
        content = text.caption(event, clip.info)
        try:
            message = await self._edit_status(
                origin, content, view=clip_view(event.job_id), attachments=[_file(clip)]
            )
            if message is None:
                message = await self._channel(origin).send(
                    content,
                    file=_file(clip),
                    view=clip_view(event.job_id),
                    allowed_mentions=_mention(origin),
                )
        except discord.HTTPException as error:
            if error.status != 413 and error.code != TOO_LARGE:
                raise
            await self._final_text(origin, text.too_big(len(clip.data), limit))
            return None
        return str(message.id)

    async def _final_text(self, origin: Origin, content: str) -> None:
        if await self._edit_status(origin, content, view=None) is None:
            await self._channel(origin).send(
                f"<@{origin.user}> {content}", allowed_mentions=_mention(origin)
            )

    async def _edit_status(
        self,
        origin: Origin,
        content: str,
        *,
        view: discord.ui.View | None,
        attachments: Sequence[discord.File] = (),
    ) -> discord.Message | None:
        """Edit the job's status message; None when that is no longer possible (the token
        expired, or the message is gone)."""
        reply = origin.reply
        if Reply.STATUS not in reply:
            return None
        message_id = int(reply[Reply.STATUS])
        try:
            if Reply.TOKEN in reply:
                age = time.time() - float(reply[Reply.TOKEN_AT])
                if age > TOKEN_LIFETIME_S - TOKEN_MARGIN_S:
                    return None
                webhook = discord.Webhook.partial(
                    int(reply[Reply.APP]), reply[Reply.TOKEN], client=self.client
                )
                return await webhook.edit_message(
                    message_id, content=content, view=view, attachments=attachments
                )
            message = self._channel(origin).get_partial_message(message_id)
            return await message.edit(content=content, view=view, attachments=attachments)
        except discord.HTTPException as error:
            if error.code in GONE:
                log.info(
                    "status message of %s is gone (%s); answering in the channel",
                    origin.channel,
                    error.code,
                )
                return None
            raise

    def _channel(self, origin: Origin) -> discord.PartialMessageable:
        guild_id = int(origin.workspace) if origin.workspace else None
        return self.client.get_partial_messageable(int(origin.channel), guild_id=guild_id)


def _file(clip: ClipFile) -> discord.File:
    return discord.File(io.BytesIO(clip.data), filename=clip.filename)


def _mention(origin: Origin) -> discord.AllowedMentions:
    return discord.AllowedMentions(users=[discord.Object(int(origin.user))])


def _allowed(allowed: list[int], channel_id: int | None, channel: object) -> bool:
    """Empty means everywhere; a thread counts as its parent channel."""
    return not allowed or channel_id in allowed or getattr(channel, "parent_id", None) in allowed


def _age_restricted(channel: object) -> bool:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def _can_moderate(channel: object, member: discord.Member | None) -> bool:
    if member is None:
        return False
    if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return channel.permissions_for(member).manage_messages
    return member.guild_permissions.manage_messages


# -- app commands (module level: discord.py reads their signatures at import) -----------------


@app_commands.command(description="Turn a prompt into a short video clip")
@app_commands.describe(
    prompt="What the clip shows",
    negative="What it should not show",
    seed="Same seed, same prompt, same clip",
    aspect="Frame shape",
    length="Length in seconds",
    model="Which model renders it",
)
@app_commands.choices(aspect=[Choice(name=aspect, value=aspect) for aspect in ASPECTS])
@app_commands.choices(length=[Choice(name=f"{seconds} s", value=seconds) for seconds in LENGTHS_S])
async def video(
    interaction: discord.Interaction[ClipClient],
    prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
    negative: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
    seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
    aspect: str | None = None,
    length: int | None = None,
    model: str | None = None,
) -> None:
    await interaction.client.adapter.on_video(
        interaction,
        prompt,
        negative=negative,
        seed=seed,
        aspect=aspect,
        length=length,
        model=model,
    )


@video.autocomplete("model")
async def _video_model(
    interaction: discord.Interaction[ClipClient], current: str
) -> list[Choice[str]]:
    return await interaction.client.adapter.model_choices(current)


@app_commands.command(description="Your clips that are queued or rendering")
async def queue(interaction: discord.Interaction[ClipClient]) -> None:
    await interaction.client.adapter.on_queue(interaction)


@app_commands.command(description="Cancel one of your queued or rendering clips")
@app_commands.describe(job="Which clip (default: your newest)")
async def cancel(interaction: discord.Interaction[ClipClient], job: str | None = None) -> None:
    await interaction.client.adapter.on_cancel(interaction, job)


@cancel.autocomplete("job")
async def _cancel_job(
    interaction: discord.Interaction[ClipClient], current: str
) -> list[Choice[str]]:
    return await interaction.client.adapter.job_choices(interaction)
