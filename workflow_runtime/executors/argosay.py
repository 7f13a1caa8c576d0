"""argosay and cowsay for steps on the local executor, standing in for Argo's test images.

``argoproj/argosay:v2`` has ENTRYPOINT argosay; ``argoproj/argosay:v1`` is ubuntu + cowsay, used by
templates as ``cowsay ...`` or ``sh -c "... cowsay ..."``.  Usage, as in Argo's tool::

    argosay                            print "hello argo"
    argosay echo [MESSAGE [FILE]]      print MESSAGE (default "hello argo"), or write it to FILE
    argosay cat FILE...                print the files
    argosay sleep DURATION             seconds ("5", "1.5") or Go-style ("300ms", "1m30s"), or "1d"
    argosay exit [CODE]                exit with CODE (default 0)
    argosay assert_contains FILE TEXT  fail unless FILE contains TEXT
    argosay assert_exists FILE         fail unless FILE exists
    argosay http get URL               print the body of a 200 response

Where Argo's Go and shell versions differ, this follows the published image's shell script (which
accepts ``sleep 5`` and writes ``echo`` output with a trailing newline), plus the Go version's
multi-file ``cat`` and error messages.  Failures exit 1 with the reason on stderr.  Stdlib only, with
lazy imports: it runs once per step.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

_USAGE = (
    "usage: argosay [echo [string] [file]|cat [file...]|sleep duration|exit [code]"
    "|assert_contains file string|assert_exists file|http get url]"
)
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


class _Failure(Exception):
    """A subcommand failed; the message goes to stderr."""


def _echo(args: list[str]) -> None:
    if len(args) > 2:
        raise _Failure("usage: argosay echo [string] [file]")
    message = args[0] if args else "hello argo"
    if len(args) < 2:
        print(message, flush=True)
        return
    directory = os.path.dirname(args[1])
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(args[1], "w") as f:
        f.write(message + "\n")


def _cat(args: list[str]) -> None:
    for name in args:
        with open(name, "rb") as f:
            sys.stdout.buffer.write(f.read())
    sys.stdout.flush()


def parse_duration(text: str) -> float:
    """Seconds in a ``sleep`` argument: a plain number of seconds or a Go duration (plus ``d``)."""
    try:
        seconds = float(text)
    except ValueError:
        import re

        parts = re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise _Failure(f"invalid duration {text!r}") from None
        seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    if not 0 <= seconds < float("inf"):
        raise _Failure(f"invalid duration {text!r}")
    return seconds


def _sleep(args: list[str]) -> None:
    if len(args) != 1:
        raise _Failure("usage: argosay sleep duration")
    import time

    time.sleep(parse_duration(args[0]))


def _exit(args: list[str]) -> None:
    if len(args) > 1:
        raise _Failure("usage: argosay exit [code]")
    try:
        code = int(args[0]) if args else 0
    except ValueError:
        raise _Failure(f"invalid exit code {args[0]!r}") from None
    if code:
        raise SystemExit(code)


def _assert_contains(args: list[str]) -> None:
    if len(args) != 2:
        raise _Failure("usage: assert_contains data string")
    with open(args[0], errors="replace") as f:
        data = f.read()
    if args[1] not in data:
        raise _Failure(f'expected "{args[0]}" to contain "{args[1]}", but was "{data}"')


def _assert_exists(args: list[str]) -> None:
    if len(args) != 1:
        raise _Failure("usage: assert_exists file")
    if not os.path.exists(args[0]):
        raise _Failure(f'expected "{args[0]}" to exist')


def _http(args: list[str]) -> None:
    if len(args) != 2 or args[0] != "get":
        raise _Failure("usage: argosay http get url")
    from urllib.request import urlopen

    with urlopen(args[1]) as response:
        if response.status != 200:
            raise _Failure(f"not 200 OK: {response.status} {response.reason}")
        print(response.read().decode(errors="replace"), flush=True)


_COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "echo": _echo,
    "cat": _cat,
    "sleep": _sleep,
    "exit": _exit,
    "assert_contains": _assert_contains,
    "assert_exists": _assert_exists,
    "http": _http,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``argosay`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    command = _COMMANDS.get(args[0] if args else "echo")
    if command is None:
        print(_USAGE, file=sys.stderr)
        return 1
    try:
        command(args[1:])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except (_Failure, OSError) as error:
        print(f"argosay: {error}", file=sys.stderr)
        return 1
    return 0


_COW = r"""        \   ^__^
         \  (oo)\_______
            (__)\       )\/\
                ||----w |
                ||     ||"""


def cowsay(text: str, width: int = 40) -> str:
    """The cow and its speech bubble, wrapped like cowsay's default (40 columns)."""
    import textwrap

    lines = [line for paragraph in text.splitlines() for line in textwrap.wrap(paragraph, width) or [""]]
    lines = lines or [""]
    w = max(len(line) for line in lines)
    if len(lines) == 1:
        body = [f"< {lines[0]} >"]
    else:
        edges = [("/", "\\")] + [("|", "|")] * (len(lines) - 2) + [("\\", "/")]
        body = [f"{left} {line.ljust(w)} {right}" for line, (left, right) in zip(lines, edges, strict=True)]
    return "\n".join([" " + "_" * (w + 2), *body, " " + "-" * (w + 2), _COW])


def cowsay_main(argv: list[str] | None = None) -> int:
    """Entry point for a ``cowsay`` console script: the words, or stdin when there are none."""
    args = sys.argv[1:] if argv is None else argv
    print(cowsay(" ".join(args) if args else sys.stdin.read()), flush=True)
    return 0
