"""The fast road of ``backprop check``: hand the file to a running daemon, print its answer.

A warm check is worth its name only if the client is cheap: the grading takes ~0.1 s, and
importing click, rich and every command module would cost more than that again. So when
the command line is a plain ``check FILE -e ID [--json] [--student S]`` and a daemon is
already listening, this module does the whole check with the standard library alone: the
daemon grades *and draws the report* (:func:`cli.daemon.render_report`) for this terminal.

Anything else — another option, ``--help``, no daemon yet, a stale or refusing daemon, an
unknown exercise, an unreadable file — returns None, and the full click command runs as
if this module did not exist: it starts or replaces the daemon, and it words every error.
So this road never decides anything on its own; it only skips work when all is well.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
from typing import Any

#: The caller's settings the daemon's version stamp depends on (``cli.daemon.STAMP_ENV``).
STAMP_ENV = ("BACKPROP_BWRAP", "SECRET_KEY", "BACKPROP_DAEMON_CODE_STAMP")
#: The wire's limits (``cli.daemon`` uses the same) and the words for a daemon lost mid-check.
REPLY_TIMEOUT = 600.0
MAX_REPLY = 16 * 1024 * 1024
LOST = "the grading daemon stopped during the check ({}); retrying with a fresh one"

#: Terminal settings the report depends on (rich reads them to choose colours and width).
TERMINAL_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES",
                "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def parse(args: list[str]) -> dict[str, Any] | None:
    """Return the options of a plain ``check`` command line, or None for anything else."""
    opts: dict[str, Any] = {"json": False, "student": "local"}
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        value: str | None = None
        if arg in ("-e", "--exercise", "--student") and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        elif arg.startswith("--exercise=") or arg.startswith("--student="):
            arg, value = arg.split("=", 1)
        elif arg.startswith("-e") and len(arg) > 2 and not arg.startswith("--"):
            arg, value = "-e", arg[2:]
        if value is not None:
            key = "student" if arg == "--student" else "exercise"
            if key in opts and key != "student" or value.startswith("-"):
                return None
            opts[key] = value
        elif arg == "--json":
            opts["json"] = True
        elif arg.startswith("-") and arg != "-" or arg == "--":
            return None  # --watch, --no-daemon, --help, a typo: the click command's job
        else:
            files.append(arg)
        i += 1
    if len(files) != 1 or "exercise" not in opts:
        return None
    opts["file"] = files[0]
    return opts


def run(args: list[str]) -> int | None:
    """Run ``backprop check ARGS`` through a listening daemon; None to take the full road."""
    opts = parse(args)
    if opts is None or os.environ.get("BACKPROP_NO_FAST_CHECK") or opts["file"] == "-":
        return None  # (stdin is read once: leave it to the command that can report on it)
    try:
        with open(opts["file"], "rb") as f:
            source = f.read()
        from grader.instance import home

        path = home() / "run" / "check.sock"
        if not path.exists() or len(os.fsencode(path)) >= 100:
            return None  # no daemon yet, or a path only the full client can reach
        request: dict[str, Any] = {
            "op": "check", "exercise": opts["exercise"], "student": opts["student"],
            "source_b64": base64.b64encode(source).decode(),
            # The daemon computes the version stamp this process would have computed.
            "caller": {"executable": sys.executable,
                       "env": {k: os.environ[k] for k in STAMP_ENV if k in os.environ}}}
        if not opts["json"]:
            request["render"] = _terminal()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            _, uid, _ = struct.unpack("3i", sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            if uid != os.getuid():
                return None  # not our daemon: the full client refuses it, in words
            sock.settimeout(REPLY_TIMEOUT)
            data = json.dumps(request).encode()
            sock.sendall(struct.pack(">I", len(data)) + data)
            reply = _receive(sock)
    except _Lost as exc:  # it died under this check: say so once, then the full road retries
        from grader.text import visible

        sys.stderr.write(f"backprop: {visible(LOST.format(exc))}\n")
        return None
    except Exception:  # noqa: BLE001 - whatever went wrong, the full road says it properly
        return None
    if not reply.get("ok") or not isinstance(reply.get("result"), dict):
        return None
    if opts["json"]:
        sys.stdout.write(json.dumps(reply["result"], indent=2) + "\n")
    elif isinstance(reply.get("report"), str):
        sys.stdout.write(reply["report"])
    else:
        return None
    sys.stdout.flush()
    return 0


class _Lost(Exception):
    """The daemon went away before its reply was whole."""


def _receive(sock: socket.socket) -> dict[str, Any]:
    """Read one reply: a 4-byte big-endian length, then that much JSON (the daemon's wire)."""
    def exact(size: int) -> bytes:
        chunks = []
        while size:
            try:
                chunk = sock.recv(min(size, 1 << 20))
            except OSError as exc:
                raise _Lost(exc.strerror or str(exc)) from None
            if not chunk:
                raise _Lost("the connection closed before a whole message arrived")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    (size,) = struct.unpack(">I", exact(4))
    if size > MAX_REPLY:
        raise ValueError("reply too large")
    reply = json.loads(exact(size))
    if not isinstance(reply, dict):
        raise ValueError("reply not an object")
    return reply


def _terminal() -> dict[str, Any]:
    """Describe this process's stdout as the report's renderer needs it."""
    tty = os.isatty(1)
    width = None
    if tty:
        try:
            width = os.get_terminal_size(1).columns
        except OSError:
            width = None
    env = {k: os.environ[k] for k in TERMINAL_ENV if k in os.environ}
    return {"tty": tty, "width": width, "env": env}
