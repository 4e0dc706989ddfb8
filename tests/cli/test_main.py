"""The `canaryd` command group: its help lists every subcommand without importing their modules."""

from __future__ import annotations

import json
import subprocess
import sys

from click import testing

from canaryd.cli import main

# Run in a fresh interpreter, so modules imported by other tests do not hide an import made by --help.
HELP_IMPORTS = """
import json, sys
from click import testing
from canaryd.cli import main
result = testing.CliRunner().invoke(main.cli, ["--help"])
print(json.dumps({"output": result.output, "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_command_with_its_purpose() -> None:
    result = testing.CliRunner().invoke(main.cli, ["--help"])

    assert result.exit_code == 0, result.output
    for name, (_, _, purpose) in main.COMMANDS.items():
        assert f"\n  {name} " in result.output
        assert purpose.split()[0] in result.output


def test_help_imports_no_subcommand_module() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", HELP_IMPORTS], capture_output=True, text=True, timeout=60, check=True
    )

    report = json.loads(completed.stdout)
    assert "Commands:" in report["output"]
    imported = {module for module, _, _ in main.COMMANDS.values()} & set(report["modules"])
    assert imported == set()
