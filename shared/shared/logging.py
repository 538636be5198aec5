"""JSON logs, one object a line, carrying the service name, request id and correlation id."""

import asyncio
import atexit
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from shared.context import correlation_id_var, request_id_var

_LINE = orjson.OPT_APPEND_NEWLINE
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """Formats records as JSON; extra= fields are kept, exceptions become a `exc` string."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if request_id := request_id_var.get():
            entry["request_id"] = request_id
        if correlation_id := correlation_id_var.get():
            entry["correlation_id"] = correlation_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class AccessLog:
    """Access lines on the hot path: the same JSON shape as the formatter's, built with one
    orjson call and gathered in memory, then written with one system call per `flush_delay_s`
    or `max_buffer_bytes` (through the logging machinery, with a write per line, they measured
    at a quarter of a cached read's cost). `_OrderedHandler` writes them out before any other
    record, so the stream keeps its order."""

    def __init__(
        self,
        service: str,
        stream: BinaryIO,
        *,
        flush_delay_s: float = 0.05,
        max_buffer_bytes: int = 256 * 1024,
    ) -> None:
        self.service = service
        self.stream = stream
        self.flush_delay_s = flush_delay_s
        self.max_buffer_bytes = max_buffer_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._flush_scheduled = False
        self._logger = logging.getLogger("access")
        self._second = -1
        self._second_text = ""
        self._ms = -1
        self._ms_text = ""

    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def _timestamp(self) -> str:
        """Now, to the millisecond, made once a millisecond (many lines share one under load)."""
        now_ms = int(time.time() * 1000)
        if now_ms != self._ms:
            second, milli = divmod(now_ms, 1000)
            if second != self._second:
                self._second = second
                moment = datetime.fromtimestamp(second, UTC)
                self._second_text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            self._ms, self._ms_text = now_ms, f"{self._second_text}.{milli:03d}+00:00"
        return self._ms_text

    def write(
        self,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        request_id: str | None,
        correlation_id: str | None,
    ) -> None:
        entry = {
            "ts": self._timestamp(),
            "level": "info",
            "service": self.service,
            "logger": "access",
            "msg": f"{method} {path} {status}",
        }
        if request_id:
            entry["request_id"] = request_id
        if correlation_id:
            entry["correlation_id"] = correlation_id
        line = orjson.dumps(entry | {"status": status, "duration_ms": duration_ms}, option=_LINE)
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.max_buffer_bytes or not self._flush_scheduled:
            self._after_write()

    def _after_write(self) -> None:
        if self._size >= self.max_buffer_bytes:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_later(self.flush_delay_s, self._scheduled_flush)
            except RuntimeError:  # no event loop (a synchronous caller): write through
                self._scheduled_flush()

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines, self._size = self._lines, [], 0
        try:
            self.stream.write(b"".join(lines))
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must not break requests
            pass


class _OrderedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the pending access lines before each record, so the stream stays in order."""

    def emit(self, record: logging.LogRecord) -> None:
        if _access_log is not None:
            _access_log.flush()
        super().emit(record)


_access_log: AccessLog | None = None


def access_log() -> AccessLog | None:
    """The process's access log, or None before `configure_logging` or when it is disabled."""
    if _access_log is None or not _access_log.enabled():
        return None
    return _access_log


def _flush_access_log() -> None:
    if _access_log is not None:
        _access_log.flush()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger, uvicorn's included, through the JSON formatter on stdout."""
    global _access_log
    if _access_log is None:
        atexit.register(_flush_access_log)
    else:
        _access_log.flush()
    _access_log = AccessLog(service, sys.stdout.buffer)
    handler = _OrderedHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The request middleware writes its own access line with the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("aio_pika", "aiormq", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
