"""The generated docs pages are current (regenerate with: python scripts/gen_docs.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_generated_docs_are_current():
    command = [sys.executable, "scripts/gen_docs.py", "--check"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_front_page_shows_a_generated_figure_and_its_spec():
    """The README and the docs' home page show archspec's own volume figure of a three-line spec, both drawn
    from the spec file by gen_docs.py (the staleness check above keeps them current)."""
    spec = (REPO / "examples" / "front_page" / "resnet18_10.yaml").read_text().strip()
    assert len(spec.splitlines()) == 3
    for page, figure in ((REPO / "README.md", "docs/img/front-page.svg"), (REPO / "docs" / "index.md",
                                                                           "img/front-page.svg")):
        text = page.read_text()
        assert f"]({figure})" in text and f"```yaml\n{spec}\n```" in text, page
    svg = (REPO / "docs" / "img" / "front-page.svg").read_text()
    assert svg.startswith("<?xml") and "<title>resnet18</title>" in svg and "11,181,642 parameters" in svg
