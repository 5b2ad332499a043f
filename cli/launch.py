"""The ``backprop`` console script's entry point: as little as possible before the command.

A plain ``check`` is first offered to a listening grading daemon (:mod:`cli.quick`: no
click, no rich, no torch in this process), the administration commands to the warm
preloader (:mod:`cli.preload`); everything else, and any command those roads decline,
runs here through the click application, :func:`cli.main.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``backprop`` with ``sys.argv``."""
    args = sys.argv[1:]
    code = None
    if args and args[0] == "check":
        from cli import quick

        code = quick.run(args[1:])
    elif args:
        from cli import preload

        if args[0] in preload.COMMANDS:
            code = preload.run(args)
    if code is not None:
        sys.exit(code)
    from cli.main import main as cli_main

    cli_main(prog_name="backprop")


if __name__ == "__main__":
    main()
