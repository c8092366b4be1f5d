"""The access log: one JSON line per answered request, in the shape of shared/logging.py's lines, built as
a string and written in batches (issue 18: through `logging` each line cost a LogRecord, a dict, a
`json.dumps` and a write and flush of its own, about a tenth of an intake request's CPU)."""

import asyncio
import atexit
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

logger = logging.getLogger("minqing.http")

FLUSH_SECONDS = 0.05  # a line is written at most this long after its request was answered
FLUSH_BYTES = 64 * 1024


def _text(value: str) -> str:
    """A JSON string (quoted, escaped), Chinese kept as written as the other log lines keep it."""
    return json.dumps(value, ensure_ascii=False)


class AccessLog:
    """Buffered access lines; `stream` None: the process's stdout at the time of writing (where
    `configure_logging` sends every other line)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._size = 0
        self._flush_pending = False
        atexit.register(self.flush)

    def enabled(self) -> bool:
        return logger.isEnabledFor(logging.INFO)

    def write(self, method: str, path: str, status: int, ms: float, request_id: str | None) -> None:
        now = datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds")
        rid = f',"request_id":{_text(request_id)}' if request_id else ""
        line = (
            f'{{"ts":"{now}","level":"info","logger":"minqing.http","msg":"request"{rid},'
            f'"method":{_text(method)},"path":{_text(path)},"status":{status},"ms":{ms}}}\n'
        )
        self._lines.append(line)
        self._size += len(line)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._flush_pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_pending = True
            loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if not self._lines:
            return
        text, self._lines, self._size = "".join(self._lines), [], 0
        stream = self._stream or sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must not fail a request
            pass
