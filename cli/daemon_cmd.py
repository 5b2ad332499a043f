"""``backprop daemon status|stop``: look at and stop the local helpers of this instance —
the grading daemon behind ``backprop check`` and the preloader of the admin commands."""

from __future__ import annotations

import time

import click

from cli.daemon import paths, stamp, status, stop


@click.group("daemon")
def daemon_cmd() -> None:
    """The local grading daemon that keeps `backprop check` warm (see docs/cli.md)."""


@daemon_cmd.command("status")
def status_cmd() -> None:
    """Say whether the daemon runs, since when, how many checks it served, and its log."""
    where = paths()
    reply = status(where)
    if reply is None or not reply.get("ok"):
        detail = f": {reply['error']}" if reply and reply.get("error") else ""
        click.echo(f"no grading daemon is running for {where.home}{detail}")
        return
    up = time.time() - float(reply["started"])
    fresh = "up to date" if reply["stamp"] == stamp() else \
        "out of date (the next check replaces it)"
    click.echo(f"grading daemon pid {reply['pid']}, up {up:.0f} s, {reply['checks']} checks, "
               f"{fresh}; exits after {reply['idle_timeout']:g} s idle\n"
               f"socket {where.socket}\nlog    {where.log}")


@daemon_cmd.command("stop")
def stop_cmd() -> None:
    """Stop the daemon and the admin commands' preloader (the next command starts them)."""
    from cli import preload

    pid = stop()
    click.echo("no grading daemon was running" if pid is None else
               f"stopped the grading daemon (pid {pid})")
    pid = preload.stop()
    if pid is not None:
        click.echo(f"stopped the admin commands' preloader (pid {pid})")


def register(main: click.Group) -> None:
    """Add ``backprop daemon`` to the console script."""
    main.add_command(daemon_cmd)
