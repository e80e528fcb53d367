"""The Sphinx extension, through a real ``sphinx-build -W``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.integrations.conftest import LENET, tool

CONF = 'project = "t"\nextensions = ["archspec.sphinx"]\n'


def build(source: Path, pages: dict[str, str]) -> subprocess.CompletedProcess[str]:
    source.mkdir(exist_ok=True)
    (source / "conf.py").write_text(CONF, encoding="utf-8")
    for name, text in pages.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return subprocess.run([tool("sphinx-build"), "-W", "-q", "-b", "html", str(source), str(source.parent / "out")],
                          cwd=source.parent, capture_output=True, text=True, timeout=300)


def test_directive_draws_inline_svg_with_options(tmp_path):
    index = ("Title\n=====\n\n.. archspec:: specs/net.yaml\n   :style: volumes\n   :summary:\n\n"
             ".. archspec:: resnet18\n   :depth: 1\n   :rankdir: lr\n   :set: {classes: 7}\n   :summary:\n")
    result = build(tmp_path / "src", {"index.rst": index, "specs/net.yaml": LENET})
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<svg\b", html)) == 2
    assert "archspec-summary" in html and "61,706 parameters" in html
    assert "layer1" in html and "conv1" in html and "[7]" in html


def test_a_bad_spec_is_an_error_at_the_document_line(tmp_path):
    bad = LENET.replace("kernel: 5", "kernal: 5", 1)
    index = "Title\n=====\n\nText.\n\n.. archspec:: net.yaml\n"
    result = build(tmp_path / "src", {"index.rst": index, "net.yaml": bad})
    assert result.returncode != 0
    assert re.search(r"index\.rst:6: ERROR: archspec: cannot draw 'net\.yaml'", result.stderr), result.stderr
    assert re.search(r"net\.yaml:\d+:\d+: error: unknown key 'kernal'", result.stderr)
    assert "hint: did you mean 'kernel'?" in result.stderr and "Traceback" not in result.stderr


def test_bad_options_and_unknown_names_are_errors(tmp_path):
    index = "T\n=\n\n.. archspec:: lenet5\n   :style: boxes\n\n.. archspec:: lenet6\n"
    result = build(tmp_path / "src", {"index.rst": index})
    assert result.returncode != 0
    assert "index.rst:4" in result.stderr and "boxes" in result.stderr
    assert "index.rst:7" in result.stderr and "did you mean 'lenet5'" in result.stderr
