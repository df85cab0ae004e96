"""One way the tests serve an explorer app on 127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(app: Any, port: int | None = None) -> tuple[Any, threading.Thread, int]:
    """Start ``app`` and wait (30 s at most) until it accepts requests."""
    import uvicorn

    port = port or free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    return srv, thread, port


@contextmanager
def served(app: Any, join_s: float = 10) -> Iterator[int]:
    """``app`` served for the block; yields its port."""
    srv, thread, port = start(app)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(join_s)
