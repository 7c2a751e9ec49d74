"""The import-layer contracts hold on this tree and catch a breach.

Layers point one way: shell (loyalty_platform) > API (loyalty_graphql) > domain
(tenants, coalition) > kernel (loyalty_kernel). The checker is import-linter,
configured in pyproject.toml and run by the test command; these tests show it
passes here and fails on a copy where a domain module imports the shell or the API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(tree / p) for p in (".", "platform", "graphql")),
    }
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def _copy_tree(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "migrations", "*.graphql", "templates", "static")
    for folder in ("tenants", "coalition", "platform", "graphql"):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_layer_contracts_hold_on_this_tree() -> None:
    # Given the project as it is / When the checker runs
    result = _lint(ROOT)
    # Then every contract is kept
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "breach"),
    [
        ("tenants/earning/services.py", "import loyalty_platform.settings"),
        ("coalition/ledger/selectors.py", "import loyalty_graphql.errors"),
        ("platform/loyalty_kernel/money.py", "import coalition.members.models"),
    ],
)
def test_a_module_importing_a_higher_layer_breaks_the_contract(
    tmp_path: Path, module: str, breach: str
) -> None:
    # Given a copy of the tree where a lower layer imports a higher one
    tree = _copy_tree(tmp_path)
    with (tree / module).open("a") as source:
        source.write(f"\n{breach}  # deliberately breaks the layers\n")
    # When the checker runs
    result = _lint(tree)
    # Then it fails and names the broken contract and the offending module
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    dotted = module.removeprefix("platform/").removesuffix(".py").replace("/", ".")
    assert dotted in result.stdout


def test_the_pricing_engine_loads_no_celery_and_no_database_driver() -> None:
    # Given a fresh interpreter / When it imports the earning engine alone
    probe = (
        "import sys, tenants.earning.engine\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'celery', 'kombu', 'psycopg', 'psycopg2', 'redis', 'stripe', 'loyalty_platform'})\n"
        "print(','.join(heavy))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "platform", "graphql")),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # Then none of Celery, the broker client, the database driver or the shell is loaded
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
