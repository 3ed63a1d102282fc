import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from clipbot.moderation import commands


def run(
    argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("CLIPBOT_MODERATION_SEMANTIC", "off")
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["moderate", *argv])
    assert args.handler(args) == 0
    return capsys.readouterr().out


def test_moderate_prints_one_json_verdict_per_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run([], "a fox in snow\n\na naked woman\n", monkeypatch, capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in rows] == ["allow", "block"]
    assert set(rows[1]) == {"text", "action", "category", "reason"}
    assert rows[1]["category"] == "sexual"


def test_summary_reports_precision_recall_and_false_blocks_per_category(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "l.jsonl"
    labelled.write_text(
        '{"text": "a naked woman", "label": "block", "category": "sexual"}\n'
        '{"text": "a fox", "label": "allow", "category": "benign"}\n'
        '{"text": "a nude-coloured dress", "label": "allow", "category": "benign"}\n'
    )
    report = json.loads(run(["--summary", str(labelled)], "", monkeypatch, capsys))
    assert report["recall"] == 1.0
    assert report["precision"] == 1.0
    assert report["per_category"]["benign"] == {"n": 2, "false_block_rate": 0.0}


def test_package_import_does_not_import_torch() -> None:
    code = "import sys, clipbot.moderation; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
