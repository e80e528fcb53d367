"""The generated docs pages are current (regenerate with: python scripts/gen_docs.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_generated_docs_are_current():
    command = [sys.executable, "scripts/gen_docs.py", "--check"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
