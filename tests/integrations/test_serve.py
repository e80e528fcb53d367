"""``archspec serve`` over HTTP (the page in a real browser: test_browser.py)."""

from __future__ import annotations

import time
import urllib.error

import pytest

from tests.integrations.conftest import tool
from tests.integrations.serving import serving


def test_serves_the_page_the_state_and_nothing_else(lenet_copy):
    with serving(lenet_copy) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert "EventSource" in served.get("")
        state = served.state()
        assert state["version"] == 1 and state["name"] == "lenet5" and not state["errors"]
        assert state["graph"].startswith("<svg") and state["volumes"].startswith("<svg")
        assert "61,706 parameters" in state["summary"]
        for path in ("net.yaml", "../net.yaml", "%2e%2e/net.yaml", "static/x", "state/../net.yaml"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                served.get(path)
            assert refused.value.code == 404
        status, output = served.stop()
    assert status == 0 and "stopped" in output and "Traceback" not in output


def test_a_save_redraws_and_a_break_keeps_the_last_good_figure(lenet_copy):
    with serving(lenet_copy) as served:
        first = served.state()
        started = time.monotonic()
        lenet_copy.write_text(lenet_copy.read_text().replace("linear: 84", "linear: 85"))
        changed = served.wait_for(lambda state: state["version"] > first["version"])
        assert time.monotonic() - started < 5
        assert changed["graph"] != first["graph"] and not changed["errors"]
        lenet_copy.write_text(lenet_copy.read_text().replace("kernel: 5", "kernal: 5", 1))
        broken = served.wait_for(lambda state: state["errors"])
        assert "error: unknown key 'kernal'" in broken["errors"] and "^~~~~~" in broken["errors"]
        assert "hint: did you mean 'kernel'?" in broken["errors"]
        assert broken["graph"] == changed["graph"], "the last good figure stays"
        lenet_copy.write_text(lenet_copy.read_text().replace("kernal: 5", "kernel: 5"))
        fixed = served.wait_for(lambda state: not state["errors"])
        assert not fixed["errors"] and fixed["version"] > broken["version"]
        assert served.process.poll() is None, "the server keeps running"
        status, _ = served.stop()
    assert status == 0


def test_watches_the_files_a_spec_extends(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("archspec: 1\nname: base\ninput: [8]\nvariables: {width: 4}\nlayers:\n  - linear: $width\n")
    child = tmp_path / "child.yaml"
    child.write_text("archspec: 1\nextends: base.yaml\nname: child\n")
    with serving(child) as served:
        first = served.state()
        assert "36 parameters" in first["summary"]
        base.write_text(base.read_text().replace("width: 4", "width: 5"))
        changed = served.wait_for(lambda state: "45 parameters" in state["summary"])
        assert "45 parameters" in changed["summary"]
        served.stop()


def test_a_missing_spec_is_an_error_not_a_server(tmp_path):
    import subprocess

    result = subprocess.run([tool("archspec"), "serve", str(tmp_path / "missing.yaml"), "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no such spec file" in result.stderr and "Traceback" not in result.stderr


def test_a_spec_broken_from_the_start_is_served_with_its_errors(lenet_copy):
    lenet_copy.write_text(lenet_copy.read_text().replace("kernel: 5", "kernal: 5", 1))
    with serving(lenet_copy) as served:
        first = served.state()
        assert "unknown key 'kernal'" in first["errors"] and first["graph"] == ""
        lenet_copy.write_text(lenet_copy.read_text().replace("kernal: 5", "kernel: 5"))
        fixed = served.wait_for(lambda state: state["graph"])
        assert fixed["graph"].startswith("<svg") and not fixed["errors"]
        served.stop()
