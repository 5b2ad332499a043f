"""Network access: Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) run on this machine
and this test first proves it can reach them; from the sandbox every attempt fails — TCP to
loopback and to outside addresses, DNS, UDP, and the services' Unix sockets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.adversarial.attack_helpers import CORRECT_EX2, assert_survives, grade_quick, reachable

SERVICES = [("127.0.0.1", 6379), ("127.0.0.1", 5432)]
UNIX_SOCKETS = ["/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432",
                "/run/mysqld/mysqld.sock", "/var/run/redis/redis-server.sock",
                "/var/run/docker.sock"]


def probe() -> str:
    return f'''
import socket
def tcp(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            print("CONNECTED", host, port)
    except OSError as exc:
        print("BLOCKED", host, port, type(exc).__name__, exc)
for host, port in {SERVICES!r} + [("1.1.1.1", 53), ("8.8.8.8", 443), ("93.184.215.14", 80),
                                ("::1", 6379), ("localhost", 5432)]:
    tcp(host, port)
for name in ("example.com", "pypi.org", "redis", "postgres"):
    try:
        print("RESOLVED", name, socket.getaddrinfo(name, 80)[0][4])
    except OSError as exc:
        print("NO-DNS", name, type(exc).__name__)
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("8.8.8.8", 53))
    print("UDP-SENT")
except OSError as exc:
    print("NO-UDP", type(exc).__name__)
for path in {UNIX_SOCKETS!r}:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    try:
        s.connect(path)
        print("CONNECTED", path)
    except OSError as exc:
        print("BLOCKED", path, type(exc).__name__)
print("IFACES", socket.if_nameindex())
'''


@pytest.fixture(scope="module")
def services_up() -> None:
    for host, port in SERVICES:
        if not reachable(host, port):
            pytest.fail(f"{host}:{port} is not reachable from the grader: this test needs "
                        "Redis and PostgreSQL running to prove anything")


def test_sandbox_reaches_no_network(sandbox, services_up) -> None:
    result = grade_quick(sandbox, probe() + CORRECT_EX2, wall_seconds=20)
    assert result.status == "graded" and result.score == 1.0, result.message
    out = result.stdout
    assert "CONNECTED" not in out, out
    assert "RESOLVED" not in out, out
    assert "UDP-SENT" not in out, out
    for host, port in SERVICES:
        assert f"BLOCKED {host} {port}" in out, out  # and the student sees the error
    assert out.count("NO-DNS") == 4
    assert_survives(sandbox)


def test_probe_connects_without_the_sandbox(services_up) -> None:
    """Control: unsandboxed, the probe connects to Redis, PostgreSQL and its Unix socket."""
    proc = subprocess.run([sys.executable, "-c", probe()], capture_output=True, text=True,
                          timeout=60)
    for host, port in SERVICES:
        assert f"CONNECTED {host} {port}" in proc.stdout, proc.stdout
    if os.path.exists(UNIX_SOCKETS[0]):
        assert f"CONNECTED {UNIX_SOCKETS[0]}" in proc.stdout
