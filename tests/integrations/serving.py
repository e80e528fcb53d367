"""Running ``archspec serve`` in a subprocess for tests: start, find its address, stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integrations.conftest import tool


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str = "") -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.read().decode("utf-8")

    def state(self) -> dict[str, Any]:
        return json.loads(self.get("state"))

    def wait_for(self, condition: Any, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if condition(state) or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a person stops it; the exit status and what it printed."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=20)
        return self.process.returncode, out


@contextmanager
def serving(spec: Path | str, *args: str, cwd: Path | None = None) -> Iterator[Served]:
    process = subprocess.Popen([tool("archspec"), "serve", str(spec), "--port", "0", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://\S+/)", line)
        assert match, f"archspec serve did not announce its address: {line!r}"
        yield Served(process, match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)
