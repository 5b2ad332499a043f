"""PostgreSQL unreachable for a few seconds while tasks run (the machine's server stays up).

The workers reach PostgreSQL through a TCP proxy run by the test; "down" closes every proxied
connection and the listening socket (connection refused), "up" listens again on the same
port. Tasks hit OperationalError, retry with backoff, and succeed; a submission is at every
moment either done with all its TensorResults or not done with none.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.worker.harness import FAST_CODE, Stack, Worker, record, slow_code, start_all


class TcpProxy:
    """Forward 127.0.0.1:<port> to PostgreSQL; ``down()`` makes it unreachable."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.accepted = 0
        self.listen()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def listen(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        s.settimeout(0.05)
        self.port = s.getsockname()[1]
        self._listener = s

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._pairs.add((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, (client, server)),
                                 daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for s in pair:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def down(self) -> None:
        """Refuse new connections and cut every open one (a server restart, seen by clients)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)

    def up(self) -> None:
        if self._listener is None:
            self.listen()

    def close(self) -> None:
        self._stop.set()
        self.down()


@pytest.fixture(scope="module")
def proxy(pg_stack: Stack) -> Iterator[TcpProxy]:
    url = urlsplit(pg_stack.env["DATABASE_URL"])
    p = TcpProxy((url.hostname or "127.0.0.1", url.port or 5432))
    yield p
    p.close()


@pytest.fixture(scope="module")
def workers(pg_stack: Stack, proxy: TcpProxy) -> list[Worker]:
    url = urlsplit(pg_stack.env["DATABASE_URL"])
    via_proxy = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}"))
    env = {"DATABASE_URL": via_proxy}
    return start_all([pg_stack.worker("w1", env=env), pg_stack.worker("w2", env=env)])


class AtomicityWatch:
    """Poll the database (directly, not through the proxy) for half-written results."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.violations: list[str] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from sqlalchemy import text

        from web.db import db

        with self.stack.app.app_context():
            while not self._stop.is_set():
                rows = db.session.execute(text(
                    "SELECT s.id, s.status, count(t.id) FROM submissions s "
                    "LEFT JOIN tensor_results t ON t.grading_id = s.current_grading_id "
                    "GROUP BY s.id, s.status")).all()
                db.session.rollback()
                self.polls += 1
                for sid, status, n in rows:
                    if (status == "done") != (n == len(self.stack.graded_tensors)) or \
                            (status != "done" and n):
                        self.violations.append(f"submission {sid}: {status} with {n} tensors")
                time.sleep(0.05)
            db.session.remove()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.timeout(150)
def test_postgres_unreachable_while_grading(pg_stack: Stack, proxy: TcpProxy,
                                            workers: list[Worker]) -> None:
    watch = AtomicityWatch(pg_stack)
    try:
        ids = pg_stack.submit(2, slow_code(1.5)) + pg_stack.submit(40, FAST_CODE)
        # Wait until grading is under way: slow ones running, some fast ones stored.
        pg_stack.wait_for(ids[0], lambda r: r.status == "running", 30, "running")
        deadline = time.monotonic() + 30
        while sum(r.status == "done" for r in pg_stack.rows(ids).values()) < 2:
            assert time.monotonic() < deadline, pg_stack.logs()
            time.sleep(0.05)

        proxy.down()
        outage = time.monotonic()
        time.sleep(0.5)  # a commit in flight when the connections were cut has landed (or not)
        before = pg_stack.rows(ids)
        assert any(r.status != "done" for r in before.values())
        time.sleep(2.5)
        during = pg_stack.rows(ids)
        proxy.up()
        down_for = time.monotonic() - outage
        # Nothing was stored while the database was unreachable.
        assert {i for i, r in during.items() if r.status == "done"} == \
            {i for i, r in before.items() if r.status == "done"}

        rows = pg_stack.wait_all_done(ids, timeout=90)
        recovered = time.monotonic() - outage
    finally:
        watch.stop()
    pg_stack.assert_graded_once(rows, ids)
    assert not watch.violations, watch.violations[:10]
    assert watch.polls > 20
    logs = "\n".join(w.log() for w in workers)
    assert "OperationalError" in logs and "Retry in" in logs, \
        "no task met the outage: the test proved nothing"
    # A retry after a failed store claims again; one outage must not reach the poison limit.
    assert max(r.attempts for r in rows.values()) <= pg_stack.app.config[
        "GRADING_MAX_ATTEMPTS"], sorted((r.attempts for r in rows.values()), reverse=True)[:5]
    record("PostgreSQL unreachable", f"{down_for:.1f} s outage; all {len(ids)} graded "
           f"{recovered:.1f} s after it began ({logs.count('Retry in')} task retries)")


def _retries(workers: list[Worker]) -> int:
    return sum(w.log().count("Retry in") for w in workers)


@pytest.mark.timeout(200)
def test_database_blips_during_store_are_not_a_poison_pill(
        pg_stack: Stack, proxy: TcpProxy, workers: list[Worker]) -> None:
    """Each time the submission is claimed, the database goes away until grading is over.

    No process dies, so the poison-pill limit must not apply: the task retries (as it does)
    and the submission must end graded with full marks.
    """
    max_attempts = pg_stack.app.config["GRADING_MAX_ATTEMPTS"]
    (sid,) = pg_stack.submit(1, slow_code(1.5))
    for attempt in range(1, max_attempts + 1):
        try:  # a set-up failure must not pass for the expected failure (raises=AssertionError)
            pg_stack.wait_for(sid, lambda r: r.status == "running", 60,
                              f"running (blip {attempt})", poll=0.02)
            time.sleep(0.3)  # the retried task has claimed it again and is grading
        except AssertionError as exc:
            pytest.fail(f"set-up: {exc}")
        retries = _retries(workers)
        proxy.down()  # grading goes on; storing its result meets a dead database
        deadline = time.monotonic() + 30
        while _retries(workers) == retries:  # until the failed store has scheduled a retry
            if time.monotonic() > deadline:
                proxy.up()
                pytest.fail("set-up: the task never retried\n" + pg_stack.logs())
            time.sleep(0.05)
        proxy.up()
    try:
        row = pg_stack.wait_all_done([sid], timeout=90)[sid]
    except AssertionError as exc:
        pytest.fail(f"set-up: {exc}")
    assert row.result_status == "graded", row
    assert row.attempts == 1, row  # retries after database errors are not attempts
    pg_stack.assert_graded_once({sid: row}, [sid])
