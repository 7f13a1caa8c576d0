"""The hub's log output: records queued by the event loop, written by a thread in batches.

A ``log`` trigger prints each event's data (7 KB for a GitHub delivery), so at a couple of
thousand events a second the log is the hub's busiest output. The standard ``QueueListener``
wakes its thread for every record and writes and flushes each one; every wake-up takes the GIL
from the event loop, and that cost the webhook ingest 13% of its throughput. :class:`LogWriter`
waits :data:`BATCH_PAUSE_SECONDS` after each batch, then formats and writes everything queued
meanwhile with one write and one flush. Formatting the message (``%`` arguments) stays with the
caller, as ``QueueHandler`` does; the writer adds the time, level and logger name.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import TextIO

__all__ = ["BATCH_PAUSE_SECONDS", "LogWriter"]

BATCH_PAUSE_SECONDS = 0.01
"""How long records collect before the next write (a line appears at most this much later)."""

_STOP = object()


class LogWriter:
    """Writes the records put on :attr:`records` to ``stream`` until :meth:`stop`."""

    def __init__(self, stream: TextIO, formatter: logging.Formatter) -> None:
        self.records: queue.SimpleQueue[logging.LogRecord | object] = queue.SimpleQueue()
        self._stream = stream
        self._formatter = formatter
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._thread.is_alive():
            self.records.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self.records.get()]
            while True:
                try:
                    batch.append(self.records.get_nowait())
                except queue.Empty:
                    break
            records = [record for record in batch if isinstance(record, logging.LogRecord)]
            if records:
                self._write(records)
            if len(records) < len(batch):
                return
            time.sleep(BATCH_PAUSE_SECONDS)

    def _write(self, records: list[logging.LogRecord]) -> None:
        # A closed or broken stream must not end the thread: the lines are dropped, as a
        # ``StreamHandler`` does with logging.raiseExceptions off.
        with contextlib.suppress(Exception):
            self._stream.write("".join(f"{self._formatter.format(record)}\n" for record in records))
            self._stream.flush()
