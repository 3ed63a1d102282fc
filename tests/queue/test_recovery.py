"""What happens when processes die: a worker killed mid-job, an adapter restarted with events
it had not delivered, Redis missing at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from arq.connections import ArqRedis
from arq.constants import retry_key_prefix

from clipbot.bot.core import BotCore
from clipbot.bot.delivery import MAX_ATTEMPTS, ClipFile, Delivery, Sink
from clipbot.config import Settings
from clipbot.errors import ConfigError, QueueUnavailable
from clipbot.models import ClipInfo, ClipRequest, EventKind, JobEvent, Origin
from clipbot.queue import connection, events, keys
from clipbot.queue.embedded import EmbeddedRedis, free_port
from clipbot.queue.results import ResultStore
from tests.conftest import WorkerFactory, delivering, eventually, make_core
from tests.doubles import RecordingSink, StepRenderer

pytestmark = pytest.mark.redis

ALICE = Origin(platform="console", channel="c1", user="alice")
CLIPBOT = [sys.executable, "-m", "clipbot.cli"]


def make_delivery(
    core: BotCore, sink: Sink, consumer: str = "adapter-1", **options: Any
) -> Delivery:
    """Delivery without throttling or retry pauses, unless ``options`` say otherwise."""
    return Delivery(
        core.redis,
        core.queue,
        ResultStore(core.redis, 3600),
        "console",
        sink,
        consumer=consumer,
        **{"progress_interval_s": 0.0, "retry_after_s": 0.0, **options},
    )


@contextlib.contextmanager
def worker_process(
    settings: Settings, model_dir: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CLIPBOT_REDIS_URL": settings.redis_url or "",
        "CLIPBOT_MODEL": str(model_dir),
        "CLIPBOT_DEVICE": "cpu",
        "CLIPBOT_JOB_TIMEOUT_S": "30",  # generous: CI machines are slow and shared
        "HF_HUB_OFFLINE": "1",
    }
    with log.open("ab") as out:
        process = subprocess.Popen([*CLIPBOT, "worker"], env=env, stdout=out, stderr=out)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
async def test_a_job_whose_worker_was_killed_is_rerun_and_delivered_exactly_once(
    core: BotCore, settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    sink = RecordingSink()
    delivery = asyncio.create_task(make_delivery(core, sink).run())
    log = tmp_path / "workers.log"
    try:
        request = ClipRequest(prompt="a slow red fox", seed=5, steps=60, length_s=4)
        submission = await core.submit(request, ALICE)
        with worker_process(settings, tiny_model_dir, log) as first:
            await sink.wait_for(lambda: EventKind.PROGRESS in sink.kinds(submission.job_id), 60)
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert not sink.finals(submission.job_id), "the job must not have finished yet"
        with worker_process(settings, tiny_model_dir, log):
            # arq re-runs it once the dead worker's in-progress key expires (timeout + 10 s)
            await sink.wait_for(lambda: bool(sink.finals(submission.job_id)), 120)
            await asyncio.sleep(1.0)  # room for a duplicate to show up, if there were one
    finally:
        delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
    kinds = sink.kinds(submission.job_id)
    assert kinds.count(EventKind.STARTED) == 2, log.read_text()[-3000:]
    assert kinds.count(EventKind.DONE) == 1 and len(sink.finals(submission.job_id)) == 1
    clip = sink.clips[submission.job_id]
    with av.open(io.BytesIO(clip.data), "r") as container:
        assert len(list(container.decode(video=0))) == clip.info.frames


async def test_a_repeated_final_event_is_shown_once(core: BotCore, redis: ArqRedis) -> None:
    sink = RecordingSink()
    submission = await core.submit(ClipRequest(prompt="twice?", seed=1), ALICE)
    record = await core.queue.record(submission.job_id)
    info = ClipInfo(bytes=4, width=64, height=64, frames=9, fps=8, seed=1, model="m")
    await redis.set(f"clipbot:clip:{submission.job_id}", b"mp4!")
    done = JobEvent(
        job_id=submission.job_id,
        kind=EventKind.DONE,
        request=record.request,
        origin=record.origin,
        clip=info,
    )
    for _ in range(3):
        await events.publish(redis, done)
    delivery = make_delivery(core, sink)
    await delivery.consumer.ensure_group()
    while await delivery.run_once(block_ms=100):
        pass
    assert len(sink.finals(submission.job_id)) == 1


class HangingSink:
    """An adapter that dies (is cancelled) in the middle of delivering."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        self.entered.set()
        await asyncio.Event().wait()
        return None


async def test_events_not_acknowledged_before_a_restart_are_delivered_after_it(
    core: BotCore,
) -> None:
    first = await core.submit(ClipRequest(prompt="one"), ALICE)
    hanging = HangingSink()
    crashed = asyncio.create_task(make_delivery(core, hanging).run())
    await hanging.entered.wait()
    crashed.cancel()  # the adapter process dies with the event read but not acknowledged
    with contextlib.suppress(asyncio.CancelledError):
        await crashed
    second = await core.submit(ClipRequest(prompt="two"), ALICE)  # arrives while it is down

    sink = RecordingSink()
    restarted = make_delivery(core, sink)  # same consumer name, as after a restart
    await restarted.consumer.ensure_group()
    while await restarted.run_once(block_ms=100):
        pass
    assert sink.kinds(first.job_id) == [EventKind.QUEUED]
    assert sink.kinds(second.job_id) == [EventKind.QUEUED]


async def unacknowledged(redis: ArqRedis) -> int:
    summary = await redis.xpending(keys.events_stream("console"), keys.DELIVERY_GROUP)
    return int(summary["pending"])


async def test_a_failed_delivery_is_retried(core: BotCore, redis: ArqRedis) -> None:
    submission = await core.submit(ClipRequest(prompt="flaky network"), ALICE)
    sink = RecordingSink(fail_times=1)
    delivery = make_delivery(core, sink)
    await delivery.consumer.ensure_group()
    await delivery.run_once(block_ms=100)
    assert sink.fail_times == 0 and sink.kinds(submission.job_id) == [EventKind.QUEUED]
    assert await unacknowledged(redis) == 0


async def test_a_delivery_that_keeps_failing_is_given_up(core: BotCore, redis: ArqRedis) -> None:
    await core.submit(ClipRequest(prompt="unreachable"), ALICE)
    sink = RecordingSink(fail_times=MAX_ATTEMPTS + 1)
    delivery = make_delivery(core, sink)
    await delivery.consumer.ensure_group()
    await delivery.run_once(block_ms=100)
    assert sink.fail_times == 1  # tried MAX_ATTEMPTS times, then acknowledged and dropped
    assert sink.events == [] and await unacknowledged(redis) == 0


async def test_an_event_waiting_for_its_retry_is_delivered_after_a_restart(
    core: BotCore, redis: ArqRedis
) -> None:
    submission = await core.submit(ClipRequest(prompt="flaky, then a restart"), ALICE)
    sink = RecordingSink(fail_times=1)
    patient = make_delivery(core, sink, retry_after_s=3600.0)

    async def failed_once() -> bool | None:
        return sink.fail_times == 0 or None

    crashed = asyncio.create_task(patient.run())
    await eventually(failed_once)
    crashed.cancel()  # the adapter dies while the event waits for its retry
    with contextlib.suppress(asyncio.CancelledError):
        await crashed
    assert await unacknowledged(redis) == 1

    restarted = make_delivery(core, sink)
    await restarted.consumer.ensure_group()
    while await restarted.run_once(block_ms=100):
        pass
    assert sink.kinds(submission.job_id) == [EventKind.QUEUED]
    assert await unacknowledged(redis) == 0


async def test_connect_retries_until_redis_appears() -> None:
    port = free_port()
    server = EmbeddedRedis(port=port)
    loop = asyncio.get_running_loop()
    loop.call_later(1.0, server.start)
    try:
        client = await connection.connect(f"redis://127.0.0.1:{port}/0", queue_name="q", wait_s=20)
        assert await client.ping()
        await client.aclose()
    finally:
        server.stop()


async def test_connect_gives_up_with_one_clear_error_that_hides_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(QueueUnavailable) as caught:
        await connection.connect(url, queue_name="q", wait_s=1)
    assert "cannot reach Redis" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_the_bot_exits_with_a_clear_line_when_redis_is_down(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CLIPBOT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "CLIPBOT_REDIS_WAIT_S": "2",
    }
    result = subprocess.run(
        [*CLIPBOT, "run", "--console", "--no-worker", "--clips-dir", str(tmp_path)],
        input=b"/video a fox\n",
        env=env,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert "retrying in" in stderr  # it backed off before giving up
    assert stderr.strip().splitlines()[-1].startswith("clipbot: cannot reach Redis at redis://")
    assert "Traceback" not in stderr


async def test_a_job_that_kept_killing_its_workers_is_given_up_with_a_message(
    core: BotCore, settings: Settings, start_worker: WorkerFactory
) -> None:
    submission = await core.submit(ClipRequest(prompt="poison"), ALICE)
    # what arq's retry counter holds after max_tries runs that each took their worker down
    await core.redis.set(retry_key_prefix + submission.job_id, settings.max_tries)
    sink = RecordingSink()
    renderer = StepRenderer()
    delivery = asyncio.create_task(make_delivery(core, sink).run())
    try:
        async with start_worker(renderer):
            await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
    finally:
        delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
    [final] = sink.finals(submission.job_id)
    assert final.kind is EventKind.FAILED
    assert f"stopped its worker {settings.max_tries} times" in (final.message or "")
    assert renderer.rendered == []
    assert await core.limits.in_flight(ALICE) == 0


def test_without_redis_url_or_redis_server_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server anywhere
    with pytest.raises(ConfigError) as caught:
        EmbeddedRedis()
    message = str(caught.value)
    assert "apt-get install redis-server" in message and "CLIPBOT_REDIS_URL" in message


async def test_the_worker_rides_out_a_redis_restart(
    settings: Settings, start_worker: WorkerFactory
) -> None:
    server = EmbeddedRedis(port=free_port()).start()
    try:
        async with start_worker(StepRenderer(), redis_url=server.url) as worker:
            await asyncio.sleep(0.5)
            server.stop()
            await asyncio.sleep(3.0)  # the worker polls into a dead Redis meanwhile
            server.start()
            redis = await connection.connect(server.url, queue_name=settings.queue_name)
            core = make_core(settings.model_copy(update={"redis_url": server.url}), redis)
            sink = RecordingSink()
            async with delivering(core, sink):
                submission = await core.submit(ClipRequest(prompt="after the outage"), ALICE)
                await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
            await redis.aclose()
            assert worker.jobs_complete == 1
    finally:
        server.stop()
    assert sink.finals(submission.job_id)[0].kind is EventKind.DONE
