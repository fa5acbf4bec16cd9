"""How the ``iabp`` commands talk to a person: tables fitted to a terminal, ``-q``/``-v``,
and progress bars.

On a terminal a rich :class:`~rich.console.Console` takes the terminal's width. Piped or
redirected (CI logs, ``| less``, ``> out.txt``) rich would assume 80 columns and wrap every
wide table row; there the output is laid out for :data:`PIPE_WIDTH` columns and lines are
never wrapped, so a log keeps one row per line. Colour follows rich's rules: none when not
a terminal, none when ``NO_COLOR`` is set (https://no-color.org), and ``FORCE_COLOR`` /
``TERM=dumb`` as rich documents them.

Every command that says more than its verdict takes ``-q/--quiet`` (only the final verdict
line, and errors) and ``-v/--verbose`` (more detail, where the command has some), both
from :func:`add_verbosity_arguments`; given together they are a usage error (exit 2).
A command whose work can take more than about two seconds shows a :class:`ProgressBar`
on stderr, only when stderr is a terminal and neither ``--quiet`` nor ``--json`` was
given: it never changes what goes to stdout, nor the exit status.

rich is imported only when a console or a bar is made, so a command that needs neither
(``iabp log verify``) starts without it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from enum import IntEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 200  #: columns a table may use when the output is not a terminal


def rich_console(*, stderr: bool = False) -> Console:
    """The Console for stdout (or stderr): the terminal's width on a terminal; else
    :data:`PIPE_WIDTH` columns and no soft wrapping."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, highlight=False, soft_wrap=not tty,
                   width=None if tty else PIPE_WIDTH)


class Verbosity(IntEnum):
    """How much a command says: ``-q`` (the verdict line only), default, ``-v`` (more)."""

    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


def add_verbosity_arguments(parser: argparse.ArgumentParser, *, quiet: str,
                            verbose: str) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` (mutually exclusive: both is a usage error)
    to ``parser``; the namespace gets ``verbosity`` (a :class:`Verbosity`). ``quiet`` and
    ``verbose`` say, for the command's ``--help``, what each prints."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const",
                       const=Verbosity.QUIET, help=f"say less: {quiet}")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const",
                       const=Verbosity.VERBOSE, help=f"say more: {verbose}")
    parser.set_defaults(verbosity=Verbosity.NORMAL)


class ProgressBar:
    """A progress bar on stderr for one long step (a context manager).

    Shown only if ``shown`` (the caller's ``not --quiet and not --json``) and stderr is a
    terminal; otherwise every method does nothing. The bar appears at the first
    :meth:`advance` or :meth:`update`, and goes away (it is transient) at :meth:`close` or
    at the end of the ``with`` block, so the step's own output is all that stays on the
    screen. Only stderr is drawn on: stdout is left alone (not redirected)."""

    def __init__(self, description: str, total: float | None = None, *,
                 shown: bool = True) -> None:
        self.description, self.total = description, total
        self.enabled = shown and sys.stderr.isatty()
        self._bar: Any = None  # rich.progress.Progress while the bar is on the screen
        self._task: Any = None
        self._closed = False

    def _start(self) -> bool:
        if not self.enabled or self._closed:
            return False
        if self._bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TaskProgressColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(),
                                 console=rich_console(stderr=True), transient=True,
                                 redirect_stdout=False, redirect_stderr=True)
            self._task = self._bar.add_task(self.description, total=self.total)
            self._bar.start()
        return True

    def advance(self, amount: float = 1.0) -> None:
        """``amount`` more of the work is done."""
        if self._start():
            self._bar.advance(self._task, amount)

    def update(self, completed: float, total: float | None = None) -> None:
        """``completed`` of the work is done (of ``total``, if it is known only now)."""
        if self._start():
            if total is not None:
                self._bar.update(self._task, completed=completed, total=total)
            else:
                self._bar.update(self._task, completed=completed)

    def close(self) -> None:
        """Take the bar off the screen (for good: later calls do nothing)."""
        self._closed = True
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class OutputPlaceError(Exception):
    """An output cannot be written where it was asked for: ``str()`` says why, as the words
    a command puts right after the option and path (starting with their separator, " is
    ..." or ": ...")."""


def check_output_place(path: Path) -> Path:
    """Refuse an output file before any work: ``path`` must not be a directory, and the
    nearest existing folder above it must take a new file (tried with a probe file,
    removed at once). Returns that folder; raises :class:`OutputPlaceError`, also for a
    folder above it that may not be searched (where ``Path.exists`` itself raises)."""
    try:
        if path.is_dir():
            raise OutputPlaceError(" is a directory; give a file name")
        parent = Path(os.path.abspath(path)).parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputPlaceError(f": {parent} is not a directory")
        probe = parent / f".iabp-probe-{secrets.token_hex(4)}"
        try:
            probe.touch(exist_ok=False)
            probe.unlink()
        except OSError as exc:
            raise OutputPlaceError(f": cannot write in {parent} ({exc.strerror or exc})") from None
    except OSError as exc:  # e.g. a parent folder that may not be searched
        raise OutputPlaceError(f": cannot use it: {exc.strerror or exc}") from None
    return parent


def check_output_folder(path: Path) -> None:
    """Refuse an output folder that exists as something else; raises
    :class:`OutputPlaceError`, also for a folder above it that may not be searched."""
    try:
        not_dir = path.exists() and not path.is_dir()
    except OSError as exc:  # e.g. a parent folder that may not be searched
        raise OutputPlaceError(f": cannot use it: {exc.strerror or exc}") from None
    if not_dir:
        raise OutputPlaceError(" is not a directory")
