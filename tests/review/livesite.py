"""A real review server for browser tests: uvicorn in a background thread on a free port."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import uvicorn

from pipeline.review.app import create_app
from pipeline.review.config import ReviewSettings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(engine, settings, review: ReviewSettings | None = None) -> Iterator[str]:
    """Serve the app over ``engine`` until the block ends; yields its base URL."""
    port = free_port()
    review = review or ReviewSettings(port=port)
    app = create_app(engine, settings, review)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/login", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
