"""LogWriter: queued records reach the stream in batches, nothing is lost at stop, a broken
stream does not end the thread."""

from __future__ import annotations

import io
import logging
import logging.handlers
import threading
import time
from collections.abc import Iterator

import pytest

from triggerfish.log_writer import BATCH_PAUSE_SECONDS, LogWriter


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.broken = False

    def write(self, text: str) -> int:
        if self.broken:
            raise OSError("stream closed")
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("test-log-writer")
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log
    log.handlers.clear()


def attach(logger: logging.Logger, stream: CountingStream) -> LogWriter:
    writer = LogWriter(stream, logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(logging.handlers.QueueHandler(writer.records))
    return writer


def test_records_queued_meanwhile_are_written_at_once_and_stop_drains(logger: logging.Logger) -> None:
    stream = CountingStream()
    writer = attach(logger, stream)
    for n in range(500):  # queued before the thread starts: one batch
        logger.info("event %d data=%s", n, "x" * 100)
    writer.start()
    writer.stop()
    lines = stream.getvalue().splitlines()
    assert lines == [f"INFO test-log-writer: event {n} data={'x' * 100}" for n in range(500)]
    assert stream.writes == 1


def test_every_record_arrives_while_the_thread_runs(logger: logging.Logger) -> None:
    stream = CountingStream()
    writer = attach(logger, stream)
    writer.start()

    def log_lines(t: int) -> None:
        for n in range(200):
            logger.info("t%d n%d", t, n)

    threads = [threading.Thread(target=log_lines, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"INFO test-log-writer: t{t} n{n}" for t in range(4) for n in range(200))
    assert stream.writes < len(lines)


def test_a_broken_stream_drops_lines_but_the_writer_goes_on(logger: logging.Logger) -> None:
    stream = CountingStream()
    writer = attach(logger, stream)
    stream.broken = True
    logger.warning("lost")
    writer.start()
    deadline = time.monotonic() + 5
    while not writer.records.empty() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(BATCH_PAUSE_SECONDS * 3)  # the failed write is behind the thread now
    stream.broken = False
    logger.warning("kept")
    writer.stop()
    assert stream.getvalue() == "WARNING test-log-writer: kept\n"
