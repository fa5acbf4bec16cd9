"""What the monitor's command lines share: argparse that reports a usage error as one line.

Light on purpose (the standard library and our errors only): ``iabp log`` starts without
loading the monitor runtime.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from iabp.spec.errors import UsageError

__all__ = ["ArgParser", "UsageError", "one_line", "parse_or_status"]


class ArgParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting (the entry point prints
    it and returns 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) as one space: an error line."""
    return " ".join(str(text).split())


def parse_or_status(parser: ArgParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """``parser``'s namespace for ``argv``, or the exit status to return at once: 2 after
    printing a usage error as one line on stderr, 0 after ``--help``."""
    try:
        return parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help (argparse printed it)
        return int(exc.code) if isinstance(exc.code, int) else 0
