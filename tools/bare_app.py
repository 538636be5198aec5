"""The floor for benchmarks: a bare ASGI app answering every request with fixed bytes.

`BARE_BODY_FILE` names the file whose bytes it serves (the catalog's cached trending page),
so the catalog's and the gateway's throughput can be given as a share of it.
"""

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ.get("BARE_BODY_FILE", "/dev/null")).read_bytes()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
