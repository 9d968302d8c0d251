"""A loopback HTTP server for the fakes of upstream APIs (Jaeger, GitHub): 127.0.0.1, a free
port, a daemon thread, handler classes that reach their fake through ``self.fake``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackHTTP:
    def __init__(self, handler: type[BaseHTTPRequestHandler], fake: object) -> None:
        self._handler = type("Handler", (handler,), {"fake": fake})
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def base_url(self, name: str) -> str:
        """``http://127.0.0.1:PORT``; ``name`` says which fake was not started."""
        assert self._server is not None, f"{name} is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON: subclasses decide the status and body."""

    def reply_json(self, status: int, body: Any) -> None:
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass
