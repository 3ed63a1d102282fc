"""A produced clip plays in a real browser: headless Chromium loads it in a <video> element
served over loopback HTTP and reports its duration and size."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from clipbot.generator.render import DiffusersRenderer
from clipbot.models import ClipRequest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

PAGE = """<!doctype html><html><body>
<video id="clip" src="clip.mp4" muted playsinline preload="auto"></video>
</body></html>"""

PLAY_AND_REPORT = """
const done = arguments[arguments.length - 1];
const video = document.getElementById('clip');
const report = () => done({
  duration: video.duration, width: video.videoWidth, height: video.videoHeight,
  time: video.currentTime, error: video.error && video.error.code});
video.addEventListener('error', report);
video.addEventListener('ended', report);
video.play().catch(report);
"""


@pytest.fixture
def served_clip(renderer: DiffusersRenderer, tmp_path: Path) -> Iterator[str]:
    request = ClipRequest(prompt="a fox", seed=3, length_s=1.0, steps=2)
    clip = renderer.encode(renderer.render(request, lambda s, t: None, lambda: False), request)
    (tmp_path / "clip.mp4").write_bytes(clip.data)
    (tmp_path / "index.html").write_text(PAGE)

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium is not installed (apt-get install chromium chromium-driver)",
)
def test_clip_plays_to_the_end_in_headless_chromium(served_clip: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(flag)
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_script_timeout(30)
        driver.get(served_clip)
        result = driver.execute_async_script(PLAY_AND_REPORT)
    finally:
        driver.quit()
    assert result["error"] is None
    assert (result["width"], result["height"]) == (160, 96)
    assert result["duration"] == pytest.approx(25 / 25, abs=0.05)
    assert result["time"] == pytest.approx(result["duration"], abs=0.05)
