"""Outputs are atomic: killing or interrupting ``archspec compile`` mid-write never leaves a partial file.

A spec made big on purpose (a 256 x 262,144 linear layer: a 268 MB ONNX file, a few tenths of a
second of writing) is compiled by the console script in a subprocess; the test watches the output
folder and signals the process as soon as a temporary file with data in it appears, that is while
the output is being written.

* SIGKILL: nothing can clean up.  The target keeps the complete previous file (or does not exist);
  the temporary file left behind is hidden and ends in ``.tmp`` (``.big.onnx.PID.RANDOM.tmp``), so
  it never passes for an output, and the next successful write of the same output removes it.
* SIGINT (Ctrl-C) and SIGTERM: the temporary file is removed, the previous file kept, and the
  command exits 130 (143) with a one-line message.
"""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

from archspec.backends.onnx import write_onnx
from archspec.backends.torch import build_module
from archspec.graph.lower import analyse
from archspec.io import atomic_write_text, remove_stale_temporaries

ARCHSPEC = Path(sys.executable).with_name("archspec")
BIG = """\
archspec: 1
name: big
input: [256]
variables: {hidden: 8}
layers:
  - linear: $hidden
  - relu
  - linear: 10
"""
HIDDEN = 262_144
"""The big run's hidden width: 67 million parameters, 268 MB of ONNX."""

pytestmark = pytest.mark.slow


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "big.yaml"
    path.write_text(BIG)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed_previous_export(spec: Path, out: Path) -> Path:
    """A complete, small export of the same spec (hidden width 8), as an earlier run would leave it."""
    graph = analyse(str(spec))
    (path,) = write_onnx(graph, build_module(graph, seed=0), out / "big.onnx")
    return path


def compile_and_signal(spec: Path, out: Path, sending: signal.Signals,
                       *outputs: str) -> subprocess.CompletedProcess[str]:
    """Compile the big spec; send ``sending`` once a temporary output holds data; return the finished process."""
    command = [str(ARCHSPEC), "compile", str(spec), "-o", str(out), "-q", "--set", f"hidden={HIDDEN}", *outputs]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    signalled = False
    while process.poll() is None and time.monotonic() < deadline:
        if any(path.name.endswith(".tmp") and path.stat().st_size > 0 for path in temporaries(out)):
            process.send_signal(sending)
            signalled = True
            break
        time.sleep(0.001)
    stdout, stderr = process.communicate(timeout=240)
    assert signalled, f"the output was never seen being written (exit {process.returncode}: {stderr})"
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def temporaries(out: Path) -> list[Path]:
    try:
        return [path for path in out.iterdir() if path.name.startswith(".")]
    except FileNotFoundError:  # not made yet
        return []


def test_sigkill_while_writing_keeps_the_previous_file_and_the_next_run_cleans_up(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    previous = seed_previous_export(spec, out)
    before = digest(previous)

    killed = compile_and_signal(spec, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert digest(previous) == before, "the previous export was touched"
    onnx.checker.check_model(str(previous), full_check=True)
    left = temporaries(out)
    assert len(left) == 1 and left[0].stat().st_size > 0, left
    assert left[0].name.startswith(".big.onnx.") and left[0].suffix == ".tmp", "a temporary passes for an output"
    assert glob.glob(str(out / "*")) == [str(previous)], "a shell's * sees a file besides the output"

    rerun = subprocess.run([str(ARCHSPEC), "compile", str(spec), "-o", str(out), "-q"], capture_output=True,
                           text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(path.name for path in out.iterdir()) == ["big.onnx"], "the stale temporary was not removed"


def test_sigkill_with_no_previous_file_leaves_no_output(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    killed = compile_and_signal(spec, out, signal.SIGKILL, "--pt")
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "big.pt").exists()
    assert all(path.name.startswith(".big.pt.") and path.suffix == ".tmp" for path in out.iterdir())


@pytest.mark.parametrize(("sending", "status", "message"), [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "terminated"),
])
def test_interrupt_while_writing_leaves_no_temporary_file(spec: Path, tmp_path: Path, sending: signal.Signals,
                                                          status: int, message: str) -> None:
    out = tmp_path / "out"
    previous = seed_previous_export(spec, out)
    before = digest(previous)
    interrupted = compile_and_signal(spec, out, sending)
    assert interrupted.returncode == status, interrupted.stderr
    assert interrupted.stderr == f"{message}\n"
    assert sorted(path.name for path in out.iterdir()) == ["big.onnx"]
    assert digest(previous) == before


def test_stale_temporaries_of_running_processes_and_other_files_are_kept(tmp_path: Path) -> None:
    """Only temporaries of the same output whose process is gone are removed."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = int(finished.stdout)
    names = {
        f".out.txt.{dead}.abc123.tmp": False,  # a killed writer of out.txt: removed
        f".out.txt.{os.getppid()}.abc123.tmp": True,  # a running process (pytest's parent) may still write it
        f".other.txt.{dead}.abc123.tmp": True,  # another output's
        ".out.txt.abc123.tmp": True,  # not archspec's naming
        f"out.txt.{dead}.abc123.tmp": True,  # not hidden
    }
    for name in names:
        (tmp_path / name).write_text("partial")
    atomic_write_text(tmp_path / "out.txt", "done")
    kept = {name: (tmp_path / name).exists() for name in names}
    assert kept == names
    assert remove_stale_temporaries(tmp_path / "out.txt") == []


def test_an_onnx_export_removes_stale_temporaries_of_its_external_data_too(spec: Path, tmp_path: Path) -> None:
    """A killed export of a model over 2 GiB leaves ``.big.onnx.data.PID.RANDOM.tmp``; a later one cleans it."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    out = tmp_path / "out"
    out.mkdir()
    for name in (f".big.onnx.data.{finished.stdout.strip()}.x1.tmp", f".big.onnx.{finished.stdout.strip()}.x2.tmp"):
        (out / name).write_bytes(b"partial")
    seed_previous_export(spec, out)
    assert sorted(path.name for path in out.iterdir()) == ["big.onnx"]
