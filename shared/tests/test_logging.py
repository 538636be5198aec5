"""JSON logs: the buffered access log keeps the stream's order and the formatter's shape."""

import asyncio
import io
import logging

import orjson

import shared.logging as module
from shared.logging import AccessLog, JsonFormatter, _OrderedHandler


def test_access_lines_have_the_formatter_shape() -> None:
    stream = io.BytesIO()
    access = AccessLog("catalog", stream)
    access.write("GET", "/api/v1/movies/7", 200, 0.42, "req-1", "corr-1")
    access.flush()
    line = orjson.loads(stream.getvalue())
    assert line["service"] == "catalog"
    assert line["logger"] == "access"
    assert line["level"] == "info"
    assert line["msg"] == "GET /api/v1/movies/7 200"
    assert (line["request_id"], line["correlation_id"]) == ("req-1", "corr-1")
    assert (line["status"], line["duration_ms"]) == (200, 0.42)
    assert line["ts"].endswith("+00:00") and len(line["ts"]) == len("2026-01-01T00:00:00.000+00:00")


async def test_access_lines_are_written_soon_and_in_order_with_other_records() -> None:
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, write_through=True)
    access = AccessLog("svc", raw, flush_delay_s=0.01)
    previous, module._access_log = module._access_log, access
    handler = _OrderedHandler(text)
    handler.setFormatter(JsonFormatter("svc"))
    logger = logging.getLogger("test.ordered")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        access.write("GET", "/first", 200, 1.0, None, None)
        assert raw.getvalue() == b""  # buffered, not yet written
        logger.warning("second")
        access.write("GET", "/third", 200, 1.0, None, None)
        await asyncio.sleep(0.05)
    finally:
        logger.removeHandler(handler)
        module._access_log = previous
    messages = [orjson.loads(line)["msg"] for line in raw.getvalue().splitlines()]
    assert messages == ["GET /first 200", "second", "GET /third 200"]
