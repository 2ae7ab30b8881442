"""The package's layers (docs/api.md), as the import-linter contract in pyproject.toml.

``lint-imports`` reads every import of every module, those inside functions too, and
fails when a module imports one in a layer above its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> list[str]:
    pytest.importorskip("importlinter", reason="import-linter is not installed (the test extra)")
    script = Path(sys.executable).with_name("lint-imports")
    if script.exists():
        return [str(script)]
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("the lint-imports command is not on PATH")
    return [found]


def test_the_layer_contract_holds():
    result = subprocess.run(
        [*_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_api_page_lists_the_layers_of_the_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "layers"
    assert config["tool"]["importlinter"]["root_package"] == "symlstm"
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = "\n".join(contract["layers"])
    assert f"```text\n{block}\n```" in api
    assert contract["layers"][0] == "symlstm.cli" and contract["layers"][-1] == "symlstm.errors"
