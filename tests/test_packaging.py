"""A normal (non-editable) install carries the built-in specs: `archspec summary resnet50` works anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_wheel_carries_the_builtin_specs(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheel"),
                            str(REPO)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("archspec-*.whl")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    assert (installed / "archspec" / "builtin_specs" / "lib" / "resnet.yaml").is_file()
    assert (installed / "archspec" / "integrations" / "serve" / "page.html").is_file(), "archspec serve's page"
    entry_points = next(installed.glob("archspec-*.dist-info")).joinpath("entry_points.txt").read_text()
    assert "[mkdocs.plugins]\narchspec = archspec.integrations.mkdocs:ArchspecPlugin" in entry_points
    # From an empty folder, with the unpacked wheel ahead of the checkout on the path.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import sys, archspec.cli\n"
            f"assert archspec.__file__.startswith({str(installed)!r}), archspec.__file__\n"
            "sys.argv = ['archspec', 'summary', 'resnet50', '-f', 'json']\n"
            "archspec.cli.main()\n")
    environment = {**os.environ, "PYTHONPATH": str(installed), "ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True,
                            env=environment)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"] == 25_557_032
