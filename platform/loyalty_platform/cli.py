"""The `loyalty` command: the one entry point for running, testing and operating.

`loyalty demo`, `loyalty serve`, `loyalty test`, `loyalty bench NAME` are ours;
every other word is a Django management command (`loyalty create-partner`,
`loyalty doctor`, `loyalty migrate`, `loyalty shell`, ...), hyphens or underscores.
`loyalty`, `loyalty help`, `--help` and `-h` list them; `loyalty help COMMAND`
describes one. Configuration errors print one line naming the setting and exit
with status 2.

With no DATABASE_URL every command works on the embedded database of the data
folder, and uses the secret key kept there (created by the first command that
needs it), so commands run next to `loyalty demo` share its data and its key.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

from loyalty_platform import embedded_db
from loyalty_platform.config import ConfigurationError

PROG = "loyalty"
# Words whose Django command has another name here.
ALIASES = {"migrate": "migrate_platform"}
HELP_WORDS = {"help", "--help", "-h"}
NO_DATABASE = HELP_WORDS | {"version", "--version"}
# The packages whose management commands are this project's own (listed first).
OWN_PACKAGES = ("loyalty_platform", "loyalty_graphql", "loyalty_web", "coalition.", "tenants.")

TEST_USAGE = """\
usage: loyalty test [--no-lint] [PYTEST ARGS ...]

Run what CI runs: ruff check, ruff format --check, mypy, the import-layer
contracts (lint-imports), makemigrations --check, then pytest with the given
arguments (for example `loyalty test --no-lint -x -k isolation`).
--no-lint skips everything but pytest. Exit 1 naming the steps that failed."""

TEST_SUMMARY = "Lint, type-check, check layers and migrations, run the test suite (what CI runs)."
BENCH_SUMMARY = "Run the benchmarks of tests/bench (all, or those named) and print their tables."
BENCH_USAGE = """\
usage: loyalty bench [NAME ...] [PYTEST ARGS ...]

Run benchmarks from tests/bench (all, or bench_NAME.py for each NAME given:
onboarding, ledger, earning, settlement, api) and print their tables."""


def _project_root() -> Path:
    return embedded_db.project_root()


def _data_dir_secret_key() -> None:
    """Without SECRET_KEY, use the key kept in the data folder (made once).

    The demo runs with DEBUG off like production, so it needs a key; it keeps a
    generated one next to its embedded database instead of asking the user for
    one. Every other command on that database uses the same key: sessions and
    signed values stay valid between `loyalty demo` and, say, `createsuperuser`.
    """
    if os.environ.get("SECRET_KEY"):
        return
    key_file = embedded_db.data_dir() / "secret_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    os.environ["SECRET_KEY"] = key_file.read_text().strip()


def _demo_stripe() -> None:
    """Without Stripe credentials the demo pays statements against the local
    Stripe-compatible fake, served from a thread of this process."""
    if os.environ.get("STRIPE_API_KEY"):
        return
    from loyalty_platform.devtools.stripe_fake import FakeStripeServer

    server = FakeStripeServer().start()
    os.environ["STRIPE_API_KEY"] = "sk_test_demo"
    os.environ["STRIPE_API_BASE"] = server.base_url
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_demo")


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def run_tests(args: list[str]) -> int:
    """Lint, format check, type check, layers, migrations check, then the test suite."""
    if args and args[0] in HELP_WORDS - {"help"}:
        print(TEST_USAGE)
        return 0
    root = _project_root()
    lint = "--no-lint" not in args
    pytest_args = [arg for arg in args if arg != "--no-lint"]
    python = sys.executable
    steps: list[tuple[str, list[str]]] = []
    if lint:
        steps += [
            ("ruff check", [python, "-m", "ruff", "check", "."]),
            ("ruff format", [python, "-m", "ruff", "format", "--check", "."]),
            ("mypy", [python, "-m", "mypy"]),
            ("layers", [str(Path(python).parent / "lint-imports"), "--no-cache"]),
            (
                "migrations",
                [python, "-m", "loyalty_platform.cli", "makemigrations", "--check", "--dry-run"],
            ),
        ]
    steps.append(("pytest", [python, "-m", "pytest", *pytest_args]))
    failed = []
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_platform.settings"}
    env.setdefault("DEBUG", "1")  # checks only; the suite sets what it needs
    for name, command in steps:
        print(f"==> {name}", flush=True)
        if subprocess.run(command, cwd=root, env=env, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"loyalty test: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_bench(args: list[str]) -> int:
    """Run benchmarks from tests/bench (all, or the ones named): they print tables."""
    if args and args[0] in HELP_WORDS - {"help"}:
        print(BENCH_USAGE)
        return 0
    root = _project_root()
    # A word naming a benchmark file selects it; everything else goes to pytest
    # (so options with values, such as -p no:logging, pass through whole).
    names = [arg for arg in args if (root / "tests" / "bench" / f"bench_{arg}.py").exists()]
    options = [arg for arg in args if arg not in names]
    files = [f"tests/bench/bench_{name}.py" for name in names] or ["tests/bench"]
    command = [
        sys.executable, "-m", "pytest", *files, "-s", "-q", "-p", "no:randomly",
        "-o", "python_files=bench_*.py", *options,
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_platform.settings"}
    env.setdefault("DEBUG", "1")  # like `loyalty test`: no SECRET_KEY needed
    return subprocess.run(command, cwd=root, env=env, check=False).returncode


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _management_commands() -> tuple[list[tuple[str, str]], list[str]]:
    """(our commands with their one-line help, every other Django command)."""
    from django.core.management import get_commands, load_command_class

    hidden = {target: word for word, target in ALIASES.items()}
    ours: list[tuple[str, str]] = []
    others: list[str] = []
    for name, app in sorted(get_commands().items()):
        if name == "test" or name in ALIASES:
            continue  # `test` is ours; aliased words name our command instead
        word = hidden.get(name, name).replace("_", "-")
        if app.startswith(OWN_PACKAGES):
            ours.append((word, _first_line(str(load_command_class(app, name).help))))
        else:
            others.append(word)
    return ours, others


def print_overview() -> int:
    """`loyalty`, `loyalty help`, `--help`, `-h`: every command, ours first."""
    print(f"usage: {PROG} COMMAND [ARGS ...]   ({PROG} help COMMAND describes one)\n")
    print("Commands of this project:")
    rows = [("test", TEST_SUMMARY), ("bench", BENCH_SUMMARY)]
    problem = None
    others: list[str] = []
    try:
        _setup_django(word="help")
        ours, others = _management_commands()
        rows = sorted(rows + ours)
    except ConfigurationError as exc:
        problem = str(exc)
    width = max(len(word) for word, _ in rows) + 2
    for word, summary in rows:
        print(f"  {word:<{width}}{summary}")
    if problem is not None:
        print("\n(the other commands are listed once the configuration loads)")
        return _fail(problem)
    print("\nDjango's and its libraries' commands work too:")
    listing = ", ".join(others)
    print(textwrap.fill(listing, width=88, initial_indent="  ", subsequent_indent="  ",
                        break_on_hyphens=False))  # fmt: skip
    return 0


def print_command_help(word: str) -> int:
    """`loyalty help COMMAND`."""
    if word == "test":
        print(TEST_USAGE)
        return 0
    if word == "bench":
        print(BENCH_USAGE)
        return 0
    try:
        _setup_django(word="help")
    except ConfigurationError as exc:
        return _fail(str(exc))
    from django.core.management import execute_from_command_line

    command = word.replace("-", "_")
    execute_from_command_line([PROG, "help", ALIASES.get(command, command)])
    return 0


def _setup_django(*, word: str) -> None:
    """Load the settings and Django; ConfigurationError says what to fix."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")
    if embedded_db.is_embedded():
        _data_dir_secret_key()
    if word not in NO_DATABASE:
        embedded_db.ensure_running()
    import django
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018  load now, so a bad setting fails here, clearly
    django.setup()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    word = argv[1] if len(argv) > 1 else "help"
    if word == "test":
        return run_tests(argv[2:])
    if word == "bench":
        return run_bench(argv[2:])
    if word in HELP_WORDS:
        topic = argv[2] if len(argv) > 2 and word == "help" else None
        return print_command_help(topic) if topic else print_overview()
    if word == "demo":
        _data_dir_secret_key()
        _demo_stripe()
    try:
        _setup_django(word=word)
    except ConfigurationError as exc:
        return _fail(str(exc))
    except Exception as exc:  # the embedded server could not start, for example
        return _fail(f"start-up failed: {type(exc).__name__}: {exc}")

    from django.core.management import execute_from_command_line

    command = word.replace("-", "_")
    # Django names the program after argv[0] in its messages ("Type 'loyalty help'").
    execute_from_command_line([PROG, ALIASES.get(command, command), *argv[2:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
