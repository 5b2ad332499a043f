"""First-time migrations of a fresh instance, started by several commands at the same moment.

Every service command migrates an embedded SQLite database to head when it starts. On a
fresh instance (``backprop serve`` still starting while an instructor runs ``backprop user
add``) two processes used to run the first migration together, and all but one failed with
"table alembic_version already exists". Here several real ``backprop`` processes start
together on one fresh BACKPROP_HOME.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from web.db import MIGRATIONS

BACKPROP = str(Path(sys.executable).with_name("backprop"))
USERS = 3


def test_simultaneous_first_commands_all_succeed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(home)
    emails = [f"user{i}@example.org" for i in range(USERS)]
    commands = [[BACKPROP, "user", "add", email, "--password", "pw-" + email]
                for email in emails] + [[BACKPROP, "db", "upgrade"]]
    # Start them all before waiting on any: they import and migrate at the same time.
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True) for cmd in commands]
    outputs = [(cmd, *proc.communicate(timeout=600), proc.returncode)
               for cmd, proc in zip(commands, procs, strict=True)]
    for cmd, out, err, code in outputs:
        assert code == 0, f"{cmd[1:]} failed ({code}):\n{out}\n{err}"
        assert "Traceback" not in err, err

    # Every user is there, and the schema is at the newest revision, recorded once.
    with sqlite3.connect(home / "backprop.db") as conn:
        stored = {row[0] for row in conn.execute("SELECT email FROM users")}
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    assert stored == set(emails)
    assert versions == [ScriptDirectory(MIGRATIONS).get_current_head()]
    # The instance has one secret key, written whole (no process read it half-written).
    assert len((home / "secret_key").read_text().strip()) > 40
    assert not list(home.glob(".secret_key.*"))
