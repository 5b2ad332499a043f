"""``backprop submit``: send a file to a server's API and wait for the result."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import click


@click.command("submit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-e", "--exercise", "exercise_id", required=True, metavar="ID")
@click.option("--server", envvar="BACKPROP_SERVER", required=True, metavar="URL",
              help="e.g. http://127.0.0.1:8000 (or set BACKPROP_SERVER).")
@click.option("--token", envvar="BACKPROP_TOKEN", required=True,
              help="API token from `backprop token EMAIL` (or set BACKPROP_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print only the result JSON.")
@click.option("--no-wait", is_flag=True, help="Return once the submission is queued.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
def submit_cmd(file: Path, exercise_id: str, server: str, token: str, as_json: bool,
               no_wait: bool, timeout: float) -> None:
    """Submit FILE to the server and print the graded result like `backprop check`."""
    from rich.console import Console
    from rich.text import Text

    from cli.http import Api
    from cli.main import _read_source
    from cli.report import render
    from grader.result import GradeResult
    from grader.text import visible

    code = _read_source(file)
    try:
        text = code.decode("utf-8")
    except UnicodeDecodeError:
        raise click.UsageError(f"{file} is not UTF-8 text") from None
    call = Api(server, token).call

    created = call("POST", "/submissions", json={"exercise": exercise_id, "code": text})
    sub_id = created["id"]
    if no_wait:
        click.echo(json.dumps(created) if as_json else visible(f"queued as submission {sub_id}"))
        return
    console = Console(stderr=True)
    deadline = time.monotonic() + timeout
    with console.status(Text(visible(f"submission {sub_id}: queued")), spinner="dots") if \
            console.is_terminal and not as_json else contextlib.nullcontext() as status:
        while True:
            body = call("GET", f"/submissions/{sub_id}")
            if body["status"] == "done":
                break
            if status is not None:
                status.update(Text(visible(f"submission {sub_id}: {body['status']}")))
            if time.monotonic() > deadline:
                raise click.ClickException(f"not graded after {timeout:g} s; "
                                           f"see submission {sub_id} later")
            time.sleep(0.3)
    result = body["result"]
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    render(GradeResult.from_json(result), Console())
    if body.get("scoring") == "carry_forward" and body.get("counted_score") is not None:
        click.echo(f"this assignment counts error carried forward: "
                   f"{body['counted_score']:g} / {result.get('max_score', 0):g}")
    if os.environ.get("BACKPROP_SERVER") is None:
        click.echo(visible(f"\n{server.rstrip('/')}/submissions/{sub_id}"), err=True)
