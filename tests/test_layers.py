"""The package's layers (docs/architecture.md), as the import-linter contract in pyproject.toml.

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


def test_the_architecture_page_lists_the_layers_of_the_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "layers"
    assert config["tool"]["importlinter"]["root_package"] == "symlstm"
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = "\n".join(contract["layers"])
    assert f"```text\n{block}\n```" in page
    assert contract["layers"][0] == "symlstm.cli" and contract["layers"][-1] == "symlstm.errors"


def test_the_architecture_page_lists_every_module_once():
    """docs/architecture.md's package tree names every module of the package, once."""
    import re

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = page.split("## The packages", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    listed: list[str] = []
    folder: list[str] = []
    for line in tree.splitlines()[1:]:  # below "symlstm/"
        m = re.match(r"^( *)(\S+)", line)
        depth = (len(m.group(1)) - 2) // 2
        name = m.group(2)
        folder[depth:] = []
        if name.endswith("/"):
            folder.append(name.rstrip("/"))
            listed.append("/".join([*folder, "__init__.py"]))
        else:
            listed.append("/".join([*folder, name]))
    package = ROOT / "symlstm"
    actual = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if p.name != "__main__.py"
        and not (p.parent.name == "cli" and p.name != "__init__.py")  # one per subcommand
    )
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(listed) == actual


def test_no_module_imports_another_modules_private_names():
    """Names a module shares with another are public in it (issue 16 item 5): no
    ``from symlstm.x import _name``, and no ``module._name`` of another symlstm module."""
    import ast

    package = ROOT / "symlstm"
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}  # local name → the symlstm module it is
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symlstm"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(
                            f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
                        )
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("symlstm"):
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path.relative_to(ROOT)}: {node.value.id}.{node.attr}")
    assert found == []
