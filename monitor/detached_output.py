"""Text output the monitor's loop never waits for: status lines and alarms on a thread.

The monitor prints its status line and its alarms to a terminal, a pipe or a file. A
write to any of them can block: a pipe whose reader stopped reading fills its 64 KB and
then blocks the writer (found by the load benchmark: a monitor whose stderr went to a
pipe read only at the end froze after 372 s, its safety loop stuck in ``write``), and a
terminal blocks on Ctrl-S. A safety loop must not stop watching because nobody reads its
words. :class:`DetachedWriter` takes the text, queues it (bounded) and returns at once; a
daemon thread writes it to the real stream. When the queue is full the text is dropped and
counted (:attr:`DetachedWriter.dropped`), and the next line that gets through says how many
were lost. What must not be lost is elsewhere: the STOP command, the interlock and the
audit log do not go through it.

:meth:`DetachedWriter.close` lets the thread finish what is queued (up to a timeout) so
the session's summary is printed before the command exits.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from typing import Final, TextIO

MAX_PENDING: Final = 512  #: queued writes before text is dropped (minutes of status lines)
CLOSE_TIMEOUT_S: Final = 2.0  #: how long close() waits for the queue to drain
_STOP: Final = object()


class DetachedWriter(io.TextIOBase):
    """A text stream whose :meth:`write` never blocks: ``stream`` is written by a thread."""

    def __init__(self, stream: TextIO, max_pending: int = MAX_PENDING) -> None:
        super().__init__()
        self.stream = stream
        self.dropped = 0  #: writes lost because the queue was full
        self._reported = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._tty = _isatty(stream)
        self._thread = threading.Thread(target=self._drain, name="monitor-output", daemon=True)
        self._thread.start()

    def isatty(self) -> bool:
        return self._tty

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        """Queue ``text``; never blocks. Returns ``len(text)`` (also when it was dropped)."""
        lost = self.dropped
        line = text
        if lost != self._reported:
            line = (f"[monitor output: {lost - self._reported} write(s) dropped, the reader "
                    "was not keeping up]\n" + text)
        try:
            self._queue.put_nowait(line)
            self._reported = lost
        except queue.Full:
            self.dropped += 1
        return len(text)

    def flush(self) -> None:
        """Nothing to do here: the thread flushes after every write."""

    def close(self) -> None:
        """Let the thread write what is queued (at most :data:`CLOSE_TIMEOUT_S`), then stop."""
        if self.closed:
            return
        with contextlib.suppress(queue.Full):  # a stuck stream: the join below times out
            self._queue.put(_STOP, timeout=CLOSE_TIMEOUT_S)
        self._thread.join(CLOSE_TIMEOUT_S)
        super().close()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.stream.write(str(item))
                self.stream.flush()
            except (OSError, ValueError):  # a closed or vanished stream: nothing to tell
                self.dropped += 1


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False
