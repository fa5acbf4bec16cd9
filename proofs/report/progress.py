"""What ``iabp report`` is doing, on stderr, while it works for minutes.

Each stage (proving, re-check, linking tests, figures, writing) is one plain line, so a
CI log or ``2> file`` shows where the time went without a redrawn bar. On a terminal the
stages whose work is counted (properties proved, queries re-solved: the minutes) are a
:class:`iabp.terminal.ProgressBar` instead, gone when the stage ends; colour follows
rich's rules (none under ``NO_COLOR``). stdout keeps only the final "wrote ..." line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from iabp.terminal import ProgressBar

Advance = Callable[[], None]  #: one more unit of a counted stage is done


class StageProgress:
    """The stages of one command's work on stderr: a line each, or a bar on a terminal."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    @contextmanager
    def stage(self, text: str, total: int | None = None) -> Iterator[Advance]:
        """Announce one stage; the body calls the yielded function per unit done (``total``
        units; None: not counted, a line even on a terminal)."""
        if total is None or not sys.stderr.isatty():
            print(f"{self.prog}: {text} ...", file=sys.stderr, flush=True)
            yield lambda: None
            return
        with ProgressBar(f"{self.prog}: {text}", total) as bar:
            bar.update(0)  # on the screen from the start, not at the first unit done
            yield bar.advance
