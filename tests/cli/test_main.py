"""The ``pigeon`` command itself: help everywhere, clean failures, both entry points."""

from __future__ import annotations

import argparse

import pytest

import pigeon
from pigeon.cli import build_parser, main
from tests.cli.conftest import RunCommand


def subcommands(
    parser: argparse.ArgumentParser, prefix: str = "pigeon"
) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Every (sub)command: its full name, its one-line help and its parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((f"{prefix} {name}", helps.get(name, ""), sub))
                found.extend(subcommands(sub, f"{prefix} {name}"))
    return found


ALL_COMMANDS = subcommands(build_parser())


def test_the_sdk_commands_exist() -> None:
    names = {name for name, _, _ in ALL_COMMANDS}
    assert {
        "pigeon status",
        "pigeon preview",
        "pigeon catalog",
        "pigeon catalog show",
        "pigeon catalog diff",
        "pigeon catalog docs",
    } <= names


@pytest.mark.parametrize(
    ("name", "help_text", "parser"), ALL_COMMANDS, ids=[c[0] for c in ALL_COMMANDS]
)
def test_every_subcommand_has_help_and_an_example(
    name: str, help_text: str, parser: argparse.ArgumentParser
) -> None:
    assert help_text.strip(), f"{name} has no one-line help"
    description = parser.description or ""
    assert len(description.split("Example:")[0].strip()) > 20, f"{name} has no description"
    assert "\nExample:\n" in description, f"{name} has no Example block"
    example = description.split("Example:\n", 1)[1]
    assert example.strip().startswith(name.split(" ", maxsplit=1)[0] + " "), (
        f"{name}: example is not a command"
    )
    assert name in example, f"{name}: the example does not use {name}"
    assert isinstance(parser.formatter_class, type)
    assert issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)


def test_top_level_help_lists_the_commands(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("--help")
    assert result.status == 0
    for command in ("status", "preview", "catalog"):
        assert command in result.out
    assert "Example:" in result.out


def test_version(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("--version")
    assert result.status == 0
    assert result.out.strip() == f"pigeon {pigeon.__version__}"


def test_no_command_prints_help_and_fails(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli()
    assert result.status == 2
    assert "status" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["status"],
        ["status", "--app"],
        ["catalog"],
        ["catalog", "burn", "x"],
        ["preview", "--bogus"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(pigeon_cli: RunCommand, args: list[str]) -> None:
    result = pigeon_cli(*args)
    assert result.status == 2
    assert "Traceback" not in result.err
    assert "error:" in result.err


def test_main_returns_instead_of_exiting() -> None:
    assert main(["--version"]) == 0
    assert main(["nope"]) == 2
