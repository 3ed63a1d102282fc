"""The terminal adapter, clipbot's embedded default: the same commands and reactions as in
chat, typed line by line (or piped on stdin), clips saved to a folder."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
import threading
from pathlib import Path
from typing import TextIO

from clipbot.bot.core import BotCore, Submission
from clipbot.bot.delivery import ClipFile
from clipbot.errors import ClipbotError, InvalidRequest
from clipbot.models import REACTION_ACTIONS, TERMINAL_EVENTS, Action, EventKind, JobEvent, Origin

log = logging.getLogger(__name__)

HELP = """Commands:
  /video <prompt> [--seed N] [--ar 16:9|9:16|1:1|4:3|3:4] [--len SECONDS] [--neg "TEXT"]
                 [--model NAME] [--steps N] [--guidance X]
  react 🔁 <n>   regenerate clip n with a new seed   (also: react regenerate <n>)
  react 🔀 <n>   a subtle variation of clip n         (also: react vary <n>)
  react ❌ <n>   cancel clip n if queued or rendering  (also: react cancel <n>)
  /queue         your clips that are queued or rendering
  help, quit"""

_WORD_ACTIONS = {action.value: action for action in Action}
BAR_WIDTH = 20


class ConsoleAdapter:
    platform = "console"

    def __init__(
        self,
        core: BotCore,
        clips_dir: Path,
        *,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.core = core
        self.clips_dir = clips_dir
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.origin = Origin(
            platform="console", channel="console", user=_user_name(), can_moderate=True
        )
        self.numbers: dict[str, int] = {}
        self.positions: dict[str, int | None] = {}
        self.unfinished: set[str] = set()
        self._all_done = asyncio.Event()
        self._all_done.set()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- input -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Read commands until ``quit`` or end of input, then wait for clips in flight."""
        interactive = self.stdin.isatty()
        self.say("clipbot console. Type help for commands." if interactive else "clipbot console")
        lines = _line_reader(self.stdin)
        while True:
            line = await lines.get()
            if line is None:
                break
            if not await self.handle_line(line.strip()):
                return
        if self.unfinished:
            self.say(f"waiting for {len(self.unfinished)} clip(s) to finish...")
            await self._all_done.wait()

    async def handle_line(self, line: str) -> bool:
        """Run one command; returns False when the user asked to quit."""
        if not line or line.startswith("#"):
            return True
        command, _, rest = line.partition(" ")
        try:
            if command in ("quit", "exit", "/quit"):
                return False
            if command in ("help", "/help"):
                self.say(HELP)
            elif command == "/video":
                await self._accepted(await self.core.submit_text(rest, self.origin))
            elif command == "react":
                await self._react(rest)
            elif command == "/cancel":
                await self._react(f"cancel {rest}")
            elif command == "/queue":
                await self._show_queue()
            else:
                raise InvalidRequest(f"Unknown command {command!r}. Type help for commands.")
        except ClipbotError as error:
            self.say(f"! {error}")
        except Exception:
            log.exception("command failed: %s", command)
            self.say("! Something went wrong on our side; the details are in the log.")
        return True

    async def _react(self, rest: str) -> None:
        what, _, number = rest.strip().partition(" ")
        action = REACTION_ACTIONS.get(what) or _WORD_ACTIONS.get(what)
        if action is None:
            raise InvalidRequest("React with 🔁, 🔀 or ❌ (or regenerate, vary, cancel).")
        if not number.strip().isdigit():
            raise InvalidRequest(f"Which clip? e.g. react {what} 1")
        job_id = await self.core.job_for_message(self.origin, number.strip())
        submission = await self.core.act(action, job_id, self.origin)
        if submission is not None:
            await self._accepted(submission)
        else:
            self.say(f"[{number.strip()}] cancel requested")

    async def _show_queue(self) -> None:
        jobs = await self.core.jobs_of(self.origin)
        if not jobs:
            self.say("You have no clips queued or rendering.")
        for record, position in jobs:
            where = "rendering" if position == 0 else f"position {position}"
            self.say(f"[{self.numbers.get(record.job_id, '?')}] {where}: {record.request.prompt}")

    async def _accepted(self, submission: Submission) -> None:
        number = len(self.numbers) + 1
        self.numbers[submission.job_id] = number
        self.positions[submission.job_id] = submission.position
        self.unfinished.add(submission.job_id)
        self._all_done.clear()
        self.say(
            f"[{number}] queued at position {submission.position} "
            f"(seed {submission.request.seed}): {submission.request.prompt}"
        )
        await self.core.link_message(self.origin, str(number), submission.job_id)

    # -- output (the delivery sink) ---------------------------------------------------------

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        number = self.numbers.get(event.job_id)
        if number is None and event.kind not in TERMINAL_EVENTS:
            return None  # its submit reply (which gives it a number) has not been printed yet
        label = f"[{number}]" if number is not None else f"[job {event.job_id[:8]}]"
        if event.kind is EventKind.QUEUED:
            if self.positions.get(event.job_id) != event.position:
                self.positions[event.job_id] = event.position
                self.say(f"{label} now at position {event.position} in the queue")
        elif event.kind is EventKind.STARTED:
            self.say(f"{label} rendering...")
        elif event.kind is EventKind.PROGRESS:
            filled = round(event.progress * BAR_WIDTH)
            bar = "█" * filled + "░" * (BAR_WIDTH - filled)
            self.say(f"{label} rendering {bar} {event.progress:4.0%}")
        elif event.kind is EventKind.DONE and clip is not None:
            path = self._save(number or 0, clip)
            info = clip.info
            self.say(
                f"{label} done: {path} ({info.duration_s:.1f}s, {info.width}x{info.height}, "
                f"{info.bytes / 1024:.0f} KiB, seed {info.seed}, model {info.model})"
            )
        else:
            self.say(f"{label} {event.kind.value}: {event.message or ''}".rstrip())
        if event.kind in TERMINAL_EVENTS:
            self.unfinished.discard(event.job_id)
            if not self.unfinished:
                self._all_done.set()
            return str(number) if number is not None else None
        return None

    def _save(self, number: int, clip: ClipFile) -> Path:
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        path = self.clips_dir / f"clip-{number}-seed{clip.info.seed}.mp4"
        path.write_bytes(clip.data)
        return path


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "console"


def _line_reader(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines from a blocking stream, read in a daemon thread (so Ctrl-C never waits on it);
    ``None`` marks end of input."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="console-input", daemon=True).start()
    return lines
