"""The ``backprop`` console script's entry point: as little as possible before the command.

The administration commands are first offered to the warm preloader (:mod:`cli.preload`);
everything else, and any command it cannot take, runs here through :func:`cli.main.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``backprop`` with ``sys.argv``."""
    args = sys.argv[1:]
    if args:
        from cli import preload

        if args[0] in preload.COMMANDS:
            code = preload.run(args)
            if code is not None:
                sys.exit(code)
    from cli.main import main as cli_main

    cli_main(prog_name="backprop")


if __name__ == "__main__":
    main()
