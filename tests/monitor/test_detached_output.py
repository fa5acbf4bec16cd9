"""The monitor's words never block its loop (monitor/detached_output.py, issue 9).

Found by benchmarks/bench_monitor_load.py: with its stderr on a pipe nobody read until the
end, ``iabp monitor`` froze after 372 s, its safety loop blocked in ``write`` once the
64 KB pipe was full.
"""

from __future__ import annotations

import io
import os
import threading
import time

from iabp.monitor.detached_output import DetachedWriter

LINE = "x" * 199 + "\n"


def test_a_full_pipe_never_blocks_the_writer_and_the_loss_is_told() -> None:
    read_fd, write_fd = os.pipe()
    stream = os.fdopen(write_fd, "w")
    writer = DetachedWriter(stream, max_pending=64)
    done = threading.Event()

    def loop() -> None:  # the monitor's loop: 2000 status lines, 400 KB, nobody reading
        for _ in range(2000):
            writer.write(LINE)
        done.set()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    assert done.wait(30), "write() blocked on a full pipe"
    assert writer.dropped > 0
    reader = os.fdopen(read_fd)
    drained = threading.Thread(target=reader.read, daemon=True)
    drained.start()  # the reader comes back: what was queued gets through
    writer.write("after\n")
    writer.close()
    stream.close()
    drained.join(10)
    assert not drained.is_alive()


def test_text_arrives_in_order_and_close_drains_it() -> None:
    sink = io.StringIO()
    writer = DetachedWriter(sink)
    for i in range(100):
        writer.write(f"line {i}\n")
    writer.close()
    assert sink.getvalue() == "".join(f"line {i}\n" for i in range(100))
    assert not writer.isatty() and writer.dropped == 0


def test_the_next_line_after_a_loss_says_how_many_were_dropped() -> None:
    gate = threading.Event()

    class Stuck(io.StringIO):
        def write(self, s: str) -> int:
            gate.wait(10)  # a reader that has stopped reading
            return super().write(s)

    sink = Stuck()
    writer = DetachedWriter(sink, max_pending=2)
    for i in range(10):
        writer.write(f"status {i}\n")
    assert writer.dropped >= 6
    gate.set()
    deadline = time.monotonic() + 10
    while sink.getvalue().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the reader catches up with what was queued
    writer.write("alarm\n")
    writer.close()
    text = sink.getvalue()
    assert "write(s) dropped, the reader was not keeping up]\nalarm\n" in text
    assert text.startswith("status 0\n")
