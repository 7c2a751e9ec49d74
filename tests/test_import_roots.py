"""The import roots must not shadow the standard library or graphql-core."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_and_graphql_are_the_real_packages_from_the_repo_root() -> None:
    # given a fresh interpreter started in the repo root with every import root on the path
    code = (
        "import sys; sys.path[:0] = ['.', 'platform', 'graphql']\n"
        "import platform, graphql, uuid\n"
        "assert callable(platform.system), platform\n"
        "assert hasattr(graphql, 'GraphQLSchema'), graphql\n"
        "import graphene, stripe, celery\n"
        "import loyalty_platform, loyalty_graphql\n"
        "print(platform.__file__, graphql.__file__)\n"
    )
    # when it imports platform and graphql
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    # then it gets the standard library module and graphql-core
    assert result.returncode == 0, result.stderr
    platform_file, graphql_file = result.stdout.split()
    assert "site-packages" not in platform_file
    assert not platform_file.startswith(str(ROOT))
    assert "site-packages" in graphql_file


def test_no_init_in_platform_or_graphql_and_no_shadowing_test_folders() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert not (ROOT / "graphql" / "__init__.py").exists()
    for folder in (ROOT / "tests").rglob("*"):
        if folder.is_dir():
            assert folder.name not in {"platform", "graphql"}, folder
