"""A bad configuration stops `loyalty doctor` and `loyalty serve` with one line on
stderr that names the setting and says what to do, never with a traceback."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from tests.testkit import (
    PROJECT_ROOT,
    assert_on_test_database,
    database_url_of,
    free_port,
    subprocess_env,
)

UNREACHABLE_DATABASE = "postgres://postgres@127.0.0.1:1/x"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def _loyalty(command: str, env: dict[str, str]) -> Outcome:
    args = [command] + (["--bind", f"127.0.0.1:{free_port()}"] if command == "serve" else [])
    try:
        result = subprocess.run(
            [sys.executable, "-m", "loyalty_platform.cli", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # e.g. `serve` started serving after all
        pytest.fail(f"`loyalty {command}` did not stop within 90 s: {exc.stderr!r}")
    return Outcome(result.returncode, result.stdout, result.stderr)


def _assert_one_clear_line(outcome: Outcome, *, code: int, setting: str, advice: str) -> None:
    everything = outcome.stdout + outcome.stderr
    assert "Traceback" not in everything, everything
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert setting in lines[0], lines[0]
    assert advice in lines[0], lines[0]
    assert outcome.returncode == code, (outcome.returncode, everything)


def _test_database_url() -> str:
    assert_on_test_database()
    return database_url_of(connection.settings_dict)


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


@pytest.mark.parametrize("command", ["doctor", "serve"])
def test_unreachable_database_is_one_line_naming_database_url(command: str) -> None:
    # given a DATABASE_URL where nothing listens
    env = subprocess_env(DATABASE_URL=UNREACHABLE_DATABASE, DATABASE_CONNECT_TIMEOUT="2", DEBUG="1")
    # when the command starts
    outcome = _loyalty(command, env)
    # then it stops with status 1 (a service is unreachable) and one line saying what to do
    _assert_one_clear_line(outcome, code=1, setting="DATABASE_URL", advice="Start PostgreSQL")
    assert "127.0.0.1:1" in outcome.stderr


@pytest.mark.parametrize("command", ["doctor", "serve"])
def test_missing_database_is_one_line_naming_database_url(command: str, live_db: Any) -> None:
    # given a reachable server but a database that does not exist on it
    url = _test_database_url().rsplit("/", 1)[0] + "/no_such_database_h1"
    env = subprocess_env(DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT="2", DEBUG="1")
    outcome = _loyalty(command, env)
    _assert_one_clear_line(outcome, code=1, setting="DATABASE_URL", advice="DATABASE_URL at")
    assert "no_such_database_h1" in outcome.stderr


@pytest.mark.parametrize("command", ["doctor", "serve"])
def test_unreachable_broker_is_one_line_naming_redis_url(command: str, live_db: Any) -> None:
    # given the (reachable, migrated) test database and a broker where nothing listens
    env = subprocess_env(DATABASE_URL=_test_database_url(), REDIS_URL=UNREACHABLE_BROKER, DEBUG="1")
    # when the command starts
    outcome = _loyalty(command, env)
    # then it stops with status 1 and one line about the broker
    _assert_one_clear_line(outcome, code=1, setting="REDIS_URL", advice="Start Redis")


@pytest.mark.parametrize("command", ["doctor", "serve"])
def test_unreachable_broker_named_by_celery_broker_url(command: str, live_db: Any) -> None:
    env = subprocess_env(
        DATABASE_URL=_test_database_url(), CELERY_BROKER_URL=UNREACHABLE_BROKER, DEBUG="1"
    )
    outcome = _loyalty(command, env)
    _assert_one_clear_line(outcome, code=1, setting="CELERY_BROKER_URL", advice="Start Redis")


@pytest.mark.parametrize("command", ["doctor", "serve"])
@pytest.mark.parametrize(
    ("setting", "value", "advice"),
    [
        ("DATABASE_URL", "postgres://u@host:notaport/db", "Use postgres://"),
        ("DATABASE_URL", "mysql://u@h/db", "Use postgres://"),
        ("DATABASE_URL", "postgres://u@h", "Use postgres://"),
        ("REDIS_URL", "localhost:6379", "Use redis://"),
        ("DATABASE_CONNECT_TIMEOUT", "soon", "Set a number"),
        ("DEBUG", "maybe", "Use 1/0"),
    ],
)
def test_malformed_setting_is_one_line_naming_it(
    command: str, setting: str, value: str, advice: str
) -> None:
    # given one malformed setting (and otherwise a usable configuration)
    env = subprocess_env(DATABASE_URL=UNREACHABLE_DATABASE, DEBUG="1")
    env[setting] = value
    # when the command starts
    outcome = _loyalty(command, env)
    # then it stops with status 2 (a bad setting) and one line naming that setting
    _assert_one_clear_line(outcome, code=2, setting=setting, advice=advice)


@pytest.mark.parametrize("command", ["doctor", "serve"])
def test_missing_secret_key_without_debug_is_one_line_naming_secret_key(command: str) -> None:
    # given production mode (DEBUG unset) and no SECRET_KEY
    env = subprocess_env(DATABASE_URL=UNREACHABLE_DATABASE)
    # when the command starts
    outcome = _loyalty(command, env)
    # then it refuses to start, naming SECRET_KEY and how to set it
    _assert_one_clear_line(outcome, code=2, setting="SECRET_KEY", advice="Set SECRET_KEY")


def test_doctor_on_a_healthy_configuration_says_ok(live_db: Any) -> None:
    # given the migrated test database with its partners, and no broker
    env = subprocess_env(DATABASE_URL=_test_database_url(), DEBUG="1")
    # when the doctor checks it
    outcome = _loyalty("doctor", env)
    # then it exits 0 with OK lines for the database and the migrations, and no failure
    assert outcome.returncode == 0, outcome
    assert "Traceback" not in outcome.stdout + outcome.stderr
    lines = outcome.stdout.splitlines()
    database = next(line for line in lines if line.split()[1:2] == ["database"])
    migrations = next(line for line in lines if line.split()[1:2] == ["migrations"])
    assert database.startswith("OK"), database
    assert connection.settings_dict["NAME"] in database
    assert migrations.startswith("OK"), migrations
    assert "partner schemas current" in migrations
    assert not [line for line in lines if line.startswith("FAIL")]
    assert outcome.stderr == ""
    assert "All checks passed." in outcome.stdout
