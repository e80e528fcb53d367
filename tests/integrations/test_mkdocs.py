"""The MkDocs plugin, through real ``mkdocs build`` and ``mkdocs serve`` runs."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from archspec.integrations.mkdocs import find_fences
from tests.integrations.conftest import LENET, tool

TINY = "archspec: 1\nname: tiny\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {channels: 4, kernel: 3}\n  - relu\n"


def make_site(root: Path, pages: dict[str, str], specs: dict[str, str] | None = None) -> Path:
    (root / "mkdocs.yml").write_text("site_name: t\nplugins: [archspec]\n", encoding="utf-8")
    for name, text in {**pages, **(specs or {})}.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def build(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("mkdocs"), "build", "--strict", "-q"], cwd=root, capture_output=True, text=True,
                          timeout=300)


def test_blocks_become_inline_svg_with_layer_labels(tmp_path):
    page = ("# Page\n\n```archspec\nspec: lenet5\nsummary: true\nset: {classes: 7}\n```\n\n"
            "````markdown\n```archspec\nspec: not-drawn\n```\n````\n\n"
            f"```archspec\n{TINY}```\n\n```archspec\nspec: specs/net.yaml\nstyle: volumes\n```\n")
    site = make_site(tmp_path, {"index.md": page, "sub/page.md": "# Sub\n\n```archspec\nspec: ../specs/net.yaml\n"
                                "rankdir: LR\n```\n"}, {"specs/net.yaml": LENET})
    result = build(site)
    assert result.returncode == 0, result.stderr
    html = (site / "site" / "index.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "conv1" in html and "archspec-summary" in html and "61,451 parameters" in html
    assert "spec: not-drawn" in html, "a block shown inside another fence stays text"
    ids = re.findall(r'\bid="(archspec-[0-9a-f]{10}-[^"]+)"', html)
    assert ids and len(ids) == len(set(ids)), "figures on one page share no id"
    assert (site / "site" / "sub" / "page" / "index.html").read_text(encoding="utf-8").count("<svg") == 1


def test_a_bad_inline_spec_fails_the_build_at_the_page_line(tmp_path):
    page = "# Page\n\ntext\n\n```archspec\n" + TINY.replace("kernel: 3", "kernal: 3") + "```\n"
    result = build(make_site(tmp_path, {"index.md": page}))
    assert result.returncode == 1
    assert "cannot draw the block at docs/index.md:5" in result.stderr
    assert "docs/index.md:10:27: error: unknown key 'kernal'" in result.stderr
    assert "^~~~~~" in result.stderr and "hint: did you mean 'kernel'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "site" / "index.html").exists()


def test_a_bad_referenced_spec_or_option_names_the_page_and_the_file(tmp_path):
    bad_spec = LENET.replace("kernel: 5", "kernel: 5, strid: 1", 1)
    pages = {"index.md": "# A\n\n```archspec\nspec: net.yaml\n```\n\n```archspec\nspec: lenet5\nstyle: boxes\n```\n"
                         "\n```archspec\nspec: lenet6\n```\n"}
    result = build(make_site(tmp_path, pages, {"net.yaml": bad_spec}))
    assert result.returncode == 1
    assert "docs/index.md:3" in result.stderr and re.search(r"docs/net\.yaml:\d+:\d+: error: unknown key 'strid'",
                                                          result.stderr)
    assert "docs/index.md:7" in result.stderr and "style must be graph or volumes, got 'boxes'" in result.stderr
    assert "docs/index.md:12" in result.stderr and "did you mean 'lenet5'" in result.stderr
    assert "Traceback" not in result.stderr


def test_find_fences_reads_indented_blocks_and_skips_other_languages():
    lines = ["!!! note", "", "    ```archspec", "    spec: lenet5", "    ```", "", "```yaml", "```archspec", "```",
             "", "~~~ archspec", "spec: vgg16", "~~~"]
    fences = find_fences(lines)
    assert [(f.start, f.end, f.indent, f.text) for f in fences] == [
        (2, 4, "    ", "spec: lenet5\n"), (10, 12, "", "spec: vgg16\n")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_mkdocs_serve_redraws_when_a_referenced_spec_changes(tmp_path):
    spec = tmp_path / "specs" / "net.yaml"
    site = make_site(tmp_path, {"index.md": "# A\n\n```archspec\nspec: ../specs/net.yaml\n```\n"})
    spec.parent.mkdir()
    spec.write_text(TINY, encoding="utf-8")
    port = _free_port()
    server = subprocess.Popen([tool("mkdocs"), "serve", "-a", f"127.0.0.1:{port}"], cwd=site,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline and "conv 3×3" not in page:
            try:
                page = _fetch(url)
            except OSError:
                time.sleep(0.2)
        assert "conv 3×3" in page and "leaky ReLU" not in page
        spec.write_text(TINY.replace("- relu", "- leaky_relu"), encoding="utf-8")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "leaky ReLU" not in page:
            time.sleep(0.3)
            page = _fetch(url)
        assert "leaky ReLU" in page, "the page was not rebuilt after the spec changed"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_inline_spec_with_a_yaml_error_gets_the_located_diagnostic(tmp_path):
    page = "# Page\n\n```archspec\narchspec: 1\nname: [unclosed\n```\n"
    result = build(make_site(tmp_path, {"index.md": page}))
    assert result.returncode == 1
    assert "cannot draw the block at docs/index.md:3" in result.stderr
    assert re.search(r"docs/index\.md:\d+:\d+: error:", result.stderr) and "Traceback" not in result.stderr


def test_figure_cache_keeps_a_drawing_until_its_spec_changes(tmp_path):
    from archspec.integrations.blocks import RenderedBlock
    from archspec.integrations.mkdocs import FigureCache

    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\n", encoding="utf-8")
    cache = FigureCache(tmp_path / "cache")
    key = (str(spec), "options")
    assert cache.get(key) is None
    cache.put(key, RenderedBlock("<svg/>", (spec,)))
    assert cache.get(key) == RenderedBlock("<svg/>", (spec,))
    assert cache.get((str(spec), "other options")) is None
    spec.write_text("archspec: 1\nname: changed\n", encoding="utf-8")
    assert cache.get(key) is None
