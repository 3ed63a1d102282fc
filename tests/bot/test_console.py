"""The embedded default end to end: `clipbot run --console` with a private Redis, an
in-process worker and the tiny model, driven through stdin as a script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def run_console(script: str, tmp_path: Path, model_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPBOT_")}
    env |= {
        "CLIPBOT_MODEL": str(model_dir),
        "CLIPBOT_DEVICE": "cpu",
        "CLIPBOT_MAX_JOBS_PER_USER": "5",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "clipbot.cli",
            "run",
            "--console",
            "--clips-dir",
            str(tmp_path / "clips"),
        ],
        input=script,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_a_scripted_session_saves_playable_clips_and_survives_bad_input(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    script = "\n".join(
        [
            "/video a red fox --seed 3 --len 1",
            "/video",
            "/video a fox --bogus 1",
            "/video " + "x" * 5000,
            "/video a fox --seed 99999999999",
            "/video \x00\u202e\u200b",
            "dance",
            "react 🔁 1",
            "/video a slow one --len 1",
            "react ❌ 3",
            "react ❌ 42",
        ]
    )
    result = run_console(script + "\n", tmp_path, tiny_model_dir)
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Say what the clip should show" in out
    assert "Unknown option --bogus" in out
    assert "Bad prompt: write 1 to 1000 characters" in out
    assert "Bad seed (--seed)" in out
    assert "Unknown command 'dance'" in out
    assert "not a clip this bot knows" in out  # react ❌ 42
    assert "[3] cancelled" in out
    assert "Traceback" not in result.stderr

    clips = sorted((tmp_path / "clips").glob("*.mp4"))
    assert [clip.name.split("-seed")[0] for clip in clips] == ["clip-1", "clip-2"]
    assert clips[0].name == "clip-1-seed3.mp4"
    assert clips[1].name != "clip-2-seed3.mp4"  # regenerate chose a new seed
    for clip in clips:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(video=0)) >= 9
