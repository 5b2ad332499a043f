"""docker-compose.yml parses, has the expected services, and runs only commands we have."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BACKPROP = str(Path(sys.executable).with_name("backprop"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_wiring(compose: dict) -> None:
    services = compose["services"]
    assert {"web", "worker", "redis", "postgres", "migrate", "beat"} <= set(services)
    for name in ("web", "worker", "migrate", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
    # Scalable with --scale worker=N: no fixed name, no host port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    assert (ROOT / "Dockerfile").exists()


def test_commands_exist_in_our_cli(compose: dict) -> None:
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or command[0] != "backprop":
            continue
        out = subprocess.run([BACKPROP, *command[1:], "--help"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, f"{name}: {command} → {out.stderr}"
    web = compose["services"]["web"]["command"]
    assert web[0] == "gunicorn" and web[-1] == "web:create_app()"


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_docker_compose_config_when_available() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    out = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, capture_output=True,
                         text=True, env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
