"""The `loyalty` command: the one entry point for running, testing and operating.

`loyalty demo`, `loyalty serve`, `loyalty test`, `loyalty bench NAME` are ours;
every other word is a Django management command (`loyalty create-partner`,
`loyalty doctor`, `loyalty migrate`, `loyalty shell`, ...), hyphens or underscores.
Configuration errors print one line naming the setting and exit with status 2.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from loyalty_platform import embedded_db
from loyalty_platform.config import ConfigurationError

# Words whose Django command has another name here.
ALIASES = {"migrate": "migrate_platform"}
NO_DATABASE = {"help", "--help", "-h", "version", "--version"}


def _project_root() -> Path:
    return embedded_db.project_root()


def _demo_secret_key() -> None:
    """The demo runs with DEBUG off like production; it keeps a generated key
    in its data folder instead of asking the user for one."""
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
    from coalition.settlement.stripe_fake import FakeStripeServer

    server = FakeStripeServer().start()
    os.environ["STRIPE_API_KEY"] = "sk_test_demo"
    os.environ["STRIPE_API_BASE"] = server.base_url
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_demo")


def _fail(message: str) -> int:
    print(f"loyalty: {message}", file=sys.stderr)
    return 2


def run_tests(args: list[str]) -> int:
    """Lint, format check, type check, migrations check, then the test suite."""
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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    word = argv[1] if len(argv) > 1 else "help"
    if word == "test":
        return run_tests(argv[2:])
    if word == "bench":
        return run_bench(argv[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")
    if word == "demo":
        _demo_secret_key()
        _demo_stripe()
    try:
        if word not in NO_DATABASE:
            embedded_db.ensure_running()
        import django
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018  load now, so a bad setting fails here, clearly
        django.setup()
    except ConfigurationError as exc:
        return _fail(str(exc))
    except Exception as exc:  # the embedded server could not start, for example
        return _fail(f"start-up failed: {type(exc).__name__}: {exc}")

    from django.core.management import execute_from_command_line

    if len(argv) > 1:
        command = argv[1].replace("-", "_")
        argv[1] = ALIASES.get(command, command)
    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
