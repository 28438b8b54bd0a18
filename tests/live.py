"""Real HTTP servers on loopback for the app and the sandbox portal."""

import threading
from collections.abc import Callable
from typing import Any

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LiveServer:
    """A threaded WSGI server on a free loopback port, stopped by ``close()``."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.httpd = ThreadedWSGIServer(
            ("127.0.0.1", 0), QuietHandler, allow_reuse_address=False
        )
        self.httpd.set_app(app)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        port = self.httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        connections.close_all()
