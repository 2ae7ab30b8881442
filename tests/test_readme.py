"""The README's promises: its two commands are what CI runs, and its Python runs as shown."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def test_the_two_commands_are_the_quick_start_and_ci_runs_the_test_command():
    shell = [block.strip() for block in _blocks("sh")]
    assert len(shell) == 2, shell
    run, tests = shell
    assert run.startswith("pip install") and run.endswith("symlstm example")
    assert tests.startswith("pip install") and tests.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1].strip() == tests  # .ci/run ends by running exactly the README's command


def test_the_python_section_runs_as_shown():
    (block,) = _blocks("pycon")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block, {}, "README.md", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5
