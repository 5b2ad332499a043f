"""The fast road of ``backprop check`` (cli/quick.py) takes only plain command lines; every
other one goes to the click command, which words the errors. The road itself is exercised
against a real daemon in tests/cli/test_check_daemon.py."""

from __future__ import annotations

import pytest

from cli.quick import parse


@pytest.mark.parametrize(("args", "expected"), [
    (["f.py", "-e", "makemore4/ex1"], ("f.py", "makemore4/ex1", False, "local")),
    (["-emakemore4/ex2", "f.py", "--json"], ("f.py", "makemore4/ex2", True, "local")),
    (["--exercise=makemore4/ex3", "f.py", "--student", "ada"],
     ("f.py", "makemore4/ex3", False, "ada")),
    (["f.py", "--exercise", "x/y", "--student=bob", "--json"], ("f.py", "x/y", True, "bob")),
])
def test_plain_command_lines_take_the_fast_road(args: list[str], expected: tuple) -> None:
    opts = parse(args)
    assert opts is not None
    assert (opts["file"], opts["exercise"], opts["json"], opts["student"]) == expected


@pytest.mark.parametrize("args", [
    ["f.py", "-e", "makemore4/ex1", "--watch"],
    ["f.py", "-e", "makemore4/ex1", "--no-daemon"],
    ["f.py", "-e", "makemore4/ex1", "--help"],
    ["--help"], [], ["f.py"], ["-e", "makemore4/ex1"],
    ["a.py", "b.py", "-e", "makemore4/ex1"],
    ["f.py", "-e"], ["f.py", "-e", "--json"],
    ["f.py", "-e", "a/b", "-e", "c/d"],
    ["f.py", "-e", "makemore4/ex1", "--jsn"],
    ["--", "f.py", "-e", "makemore4/ex1"],
])
def test_anything_else_goes_to_the_click_command(args: list[str]) -> None:
    assert parse(args) is None
