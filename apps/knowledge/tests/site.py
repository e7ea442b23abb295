"""A small real web server on 127.0.0.1 for the URL import tests."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = ("<html><head><title>Entregas | Bom Sabor</title></head><body><nav>Menu</nav>"
        "<main><h1>Entregas</h1><p>Entregamos em Jardim América e Vila Nova.</p></main></body></html>")


class Site:
    """A small web server on 127.0.0.1; ``routes`` maps a path to (status, headers, body) or to a
    callable(handler) that answers by itself."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[dict] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                site.requests.append({"path": self.path, "host": self.headers.get("Host")})
                route = site.routes.get(self.path.split("?")[0])
                if route is None:
                    route = (404, {"Content-Type": "text/plain"}, b"not found")
                if callable(route):
                    return route(self)
                status, headers, body = route
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
