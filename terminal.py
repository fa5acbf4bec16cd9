"""How the ``iabp`` commands write tables and text: fitted to a terminal, unwrapped in a pipe.

On a terminal a rich :class:`~rich.console.Console` takes the terminal's width. Piped or
redirected (CI logs, ``| less``, ``> out.txt``) rich would assume 80 columns and wrap every
wide table row; there the output is laid out for :data:`PIPE_WIDTH` columns and lines are
never wrapped, so a log keeps one row per line. Colour follows rich's rules: none when not
a terminal, none when ``NO_COLOR`` is set (https://no-color.org), and ``FORCE_COLOR`` /
``TERM=dumb`` as rich documents them.
"""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 200  #: columns a table may use when the output is not a terminal


def rich_console(*, stderr: bool = False) -> Console:
    """The Console for stdout (or stderr): the terminal's width on a terminal; else
    :data:`PIPE_WIDTH` columns and no soft wrapping."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, highlight=False, soft_wrap=not tty,
                   width=None if tty else PIPE_WIDTH)
