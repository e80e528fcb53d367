"""Writing outputs atomically: a temporary file in the target folder, renamed into place.

On any error, or an interrupt (Ctrl-C), the temporary file is removed and the previous file (if
any) is left untouched, so a reader never sees a half-written ONNX model, checkpoint or diagram.

A process killed outright (SIGKILL, a power cut) cannot remove its temporary file.  Temporaries
are hidden and never carry an output's suffix - ``.NAME.PID.RANDOM.tmp`` beside ``NAME`` - so
no tool mistakes one for an output; and a later successful write of ``NAME`` removes the
temporaries of ``NAME`` whose process (``PID``, on this machine) no longer runs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_output(path: Path | str, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(prefix=_temporary_prefix(target) + f"{os.getpid()}.",
                                              suffix=suffix or TEMPORARY_SUFFIX, dir=target.parent)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    remove_stale_temporaries(target)


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_stale_temporaries(target: Path | str) -> list[Path]:
    """Remove the temporaries of ``target`` left by processes that were killed; returns those removed.

    Only on POSIX systems, where whether a process runs can be asked without disturbing it; a
    temporary whose process still runs (another archspec writing the same file) is kept.
    """
    if os.name != "posix":
        return []
    target = Path(target)
    prefix = _temporary_prefix(target)
    removed = []
    for candidate in target.parent.glob(glob.escape(prefix) + "*" + TEMPORARY_SUFFIX):
        pid_text = candidate.name[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _running(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # not ours (PermissionError), or no such pid at all: keep its file
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
