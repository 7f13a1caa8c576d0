from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflow_runtime.executors import argosay


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = argosay.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_arguments_says_hello(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys) == (0, "hello argo\n", "")
    assert run(capsys, "echo") == (0, "hello argo\n", "")


def test_echo_prints_or_writes_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "echo", "hi there") == (0, "hi there\n", "")
    target = tmp_path / "deep" / "dir" / "out.txt"
    assert run(capsys, "echo", "value", str(target)) == (0, "", "")
    assert target.read_text() == "value\n"
    code, _, err = run(capsys, "echo", "a", "b", "c")
    assert code == 1 and "usage" in err


def test_cat_prints_every_file_and_fails_on_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a").write_text("A\n")
    (tmp_path / "b").write_text("B\n")
    assert run(capsys, "cat", str(tmp_path / "a"), str(tmp_path / "b")) == (0, "A\nB\n", "")
    code, _, err = run(capsys, "cat", str(tmp_path / "missing"))
    assert code == 1 and "missing" in err


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "exit")[0] == 0
    assert run(capsys, "exit", "0")[0] == 0
    assert run(capsys, "exit", "3")[0] == 3
    assert run(capsys, "exit", "nope")[0] == 1
    assert run(capsys, "exit 1")[0] == 1  # one word: unknown subcommand, as in Argo's dag-depends test


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 5.0),
        ("0.25", 0.25),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
    ],
)
def test_sleep_durations(text: str, seconds: float) -> None:
    assert argosay.parse_duration(text) == pytest.approx(seconds)


def test_sleep_sleeps_and_rejects_garbage(capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    assert run(capsys, "sleep", "50ms")[0] == 0
    assert time.monotonic() - began >= 0.05
    for bad in ("garbage", "5x", "-1", "1s2"):
        code, _, err = run(capsys, "sleep", bad)
        assert code == 1 and "invalid duration" in err


def test_assertions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("foo bar")
    assert run(capsys, "assert_contains", str(data), "bar")[0] == 0
    code, _, err = run(capsys, "assert_contains", str(data), "baz")
    assert code == 1 and f'expected "{data}" to contain "baz", but was "foo bar"' in err
    assert run(capsys, "assert_contains", str(tmp_path / "none"), "x")[0] == 1
    assert run(capsys, "assert_contains", str(data))[0] == 1
    assert run(capsys, "assert_exists", str(data))[0] == 0
    assert run(capsys, "assert_exists", str(tmp_path / "none"))[0] == 1


def test_unknown_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "garbage")
    assert (code, out) == (1, "")
    assert err.startswith("usage: argosay")


def test_cowsay_bubbles() -> None:
    single = argosay.cowsay("hello")
    assert single.splitlines()[:3] == [" _______", "< hello >", " -------"]
    assert "(oo)" in single
    lines = argosay.cowsay("word " * 20).splitlines()  # 100 characters: three lines of at most 40
    assert lines[1].startswith("/ ") and lines[1].endswith(" \\")
    assert lines[2].startswith("| ") and lines[2].endswith(" |")
    assert lines[3].startswith("\\ ") and lines[3].endswith(" /")
    assert len({len(line) for line in lines[1:4]}) == 1
    assert lines[4] == " " + "-" * (len(lines[1]) - 2)


def test_cowsay_reads_stdin_without_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    assert argosay.cowsay_main([]) == 0
    assert "< from stdin >" in capsys.readouterr().out
    assert argosay.cowsay_main(["hello", "world"]) == 0
    assert "< hello world >" in capsys.readouterr().out


def test_import_loads_nothing_but_itself() -> None:
    """It runs once per step: importing it must not pull in third-party or heavy modules."""
    probe = (
        "import sys; before = set(sys.modules); import workflow_runtime.executors.argosay; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    new_modules = set(result.stdout.split())
    assert "workflow_runtime.executors.argosay" in new_modules
    assert new_modules <= {
        "workflow_runtime",
        "workflow_runtime.executors",
        "workflow_runtime.executors.argosay",
    } | {"collections.abc"}
