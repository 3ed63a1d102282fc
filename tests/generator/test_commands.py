import argparse
from pathlib import Path

import pytest

from clipbot.errors import InvalidRequest
from clipbot.generator import commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="clipbot")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_generate_writes_a_clip_and_reports_its_seed(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fox.mp4"
    poster = tmp_path / "fox.jpg"
    argv = ["generate", "a fox", "-o", str(out), "--model", str(tiny_model_dir), "--seed", "5"]
    assert run([*argv, "--len", "1", "--steps", "2", "--poster", str(poster)]) == 0
    assert out.read_bytes()[4:8] == b"ftyp"
    assert poster.read_bytes().startswith(b"\xff\xd8")
    captured = capsys.readouterr()
    assert "seed 5" in captured.out
    assert "100% step 2/2" in captured.err


def test_generate_vary_names_both_seeds(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "vary.mp4"
    argv = ["generate", "a fox", "-o", str(out), "--model", str(tiny_model_dir)]
    assert run([*argv, "--frames", "9", "--steps", "1", "--vary-of", "5", "--seed", "6"]) == 0
    assert "seed 5, varied with seed 6 at strength 0.25" in capsys.readouterr().out


def test_make_tiny_model_writes_a_loadable_pipeline(tmp_path: Path) -> None:
    assert run(["make-tiny-model", str(tmp_path / "wan"), "--family", "wan"]) == 0
    assert (tmp_path / "wan" / "model_index.json").is_file()
    assert (
        tmp_path / "wan" / "clipbot-preset.json"
    ).read_text().strip() == '{"preset": "tiny-wan"}'


def test_generate_refuses_an_impossible_clip_before_loading_the_model(tmp_path: Path) -> None:
    argv = ["generate", "x", "-o", str(tmp_path / "x.mp4"), "--model", "wan2.1-t2v-1.3b"]
    with pytest.raises(InvalidRequest, match=r"at most 5\.1 s"):
        run([*argv, "--len", "8"])
