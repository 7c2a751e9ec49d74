"""The `loyalty` command's own words: help, and refusing a malformed --bind
before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loyalty_platform.management.commands.serve import bind_problem
from tests.testkit import PROJECT_ROOT, subprocess_env

# Help and argument checks never reach the database: a server that does not
# exist proves it (a connection attempt would fail differently).
NO_SUCH_DATABASE = "postgres://nobody@127.0.0.1:1/nothing"


def _loyalty(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(DATABASE_URL=NO_SUCH_DATABASE, **settings)
    return subprocess.run(
        [sys.executable, "-m", "loyalty_platform.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("words", [["--help"], ["-h"], ["help"], []])
def test_help_lists_every_command_of_the_project(words: list[str]) -> None:
    # when a newcomer asks for help in any of the usual ways
    result = _loyalty(*words, SECRET_KEY="k" * 50)

    # then they get the list, ours first, including test and bench
    assert result.returncode == 0, result.stderr
    assert "Unknown command" not in result.stdout + result.stderr
    ours = result.stdout.split("Django's")[0]
    for command in ("demo", "serve", "test", "bench", "migrate", "create-partner",
                    "create-api-key", "close-period", "doctor", "verify-ledger"):  # fmt: skip
        assert f"\n  {command} " in ours, (command, result.stdout)
    # and Django's own commands after them
    assert "createsuperuser" in result.stdout
    assert "shell" in result.stdout


@pytest.mark.parametrize("command", ["test", "bench"])
def test_help_describes_our_own_commands(command: str) -> None:
    # when help is asked about a command that is not Django's
    result = _loyalty("help", command, SECRET_KEY="k" * 50)

    # then it shows that command's usage
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: loyalty {command}")


def test_help_about_a_django_command_names_the_program_loyalty() -> None:
    # when help is asked about one of the management commands
    result = _loyalty("help", "create-api-key", SECRET_KEY="k" * 50)

    # then Django describes it, under our program's name
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: loyalty create_api_key")
    assert "--operator" in result.stdout


def test_help_with_a_broken_configuration_still_lists_ours_and_names_the_setting() -> None:
    # given a configuration with no SECRET_KEY and DEBUG off
    # when help is asked
    result = _loyalty("--help")

    # then our own commands are listed, and one line says what to fix
    assert "test" in result.stdout
    assert "bench" in result.stdout
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("loyalty: SECRET_KEY: not set")


@pytest.mark.parametrize(
    ("command", "bind"),
    [("demo", "nonsense"), ("demo", "localhost:70000"), ("serve", "127.0.0.1:http")],
)
def test_a_bind_that_is_not_host_port_is_refused_with_one_line(command: str, bind: str) -> None:
    # when the server is asked to listen on something that is not HOST:PORT
    result = _loyalty(command, "--bind", bind, SECRET_KEY="k" * 50)

    # then it stops at once with status 2 and one line naming --bind and the fix
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"loyalty: --bind {bind!r}: ")
    assert "HOST:PORT" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nothing migrated, seeded or served


@pytest.mark.parametrize(
    "bind",
    ["127.0.0.1:8000", "0.0.0.0:80", "localhost:8000", "loyalty-web.internal:8000",
     "[::1]:8000", "unix:/run/loyalty.sock"],
)  # fmt: skip
def test_host_port_binds_are_accepted(bind: str) -> None:
    assert bind_problem(bind) is None


@pytest.mark.parametrize(
    "bind", ["nonsense", "8000", "host:", "host:0", "under_score:80", "[nope]:80", "unix:"]
)
def test_malformed_binds_are_explained(bind: str) -> None:
    assert bind_problem(bind)
