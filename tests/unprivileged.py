"""Run a CLI entry point without root's powers (as ``nobody``, in a forked child).

The suite may run as root (CI does), and root reads, writes and searches any folder,
so "cannot read" and "may not search this folder" paths could never be exercised there.
The child drops root before calling, and reports the exit status and what the call
wrote to stderr back through a pipe.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

NOBODY = 65534


def run_unprivileged(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` without root's powers: (its exit status, its stderr). As root the call
    runs as ``nobody`` in a forked child; a child that raised reports status 99 and the
    traceback, so a crash fails the test with the reason. Unprivileged, it runs here."""
    if os.geteuid() != 0:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = main(argv)
        return status, err.getvalue()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 99
        err = io.StringIO()
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with contextlib.redirect_stderr(err):
                status = main(argv)
        except BaseException as exc:  # anything, reported to the parent
            err.write(f"child raised {exc!r}\n{traceback.format_exc()}")
        finally:
            os.write(w, f"{status}\n{err.getvalue()}".encode())
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    status_line, _, err_text = b"".join(chunks).decode().partition("\n")
    return int(status_line), err_text


@contextlib.contextmanager
def open_and_locked_folders() -> Iterator[tuple[Path, Path]]:
    """Two folders under /tmp: one anybody may search and read (0755), and inside it one
    that nobody but root may enter (mode 0), with a file inside. Removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="iabp-unprivileged-"))
    base.chmod(0o755)
    locked = base / "locked-folder"
    locked.mkdir()
    (locked / "inside.bin").write_bytes(b"\x7e")
    locked.chmod(0)
    try:
        yield base, locked
    finally:
        locked.chmod(0o700)
        shutil.rmtree(base, ignore_errors=True)
