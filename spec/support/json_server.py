"""What the specs' small JSON servers share (echo.py, pages.py, cacheable.py):
a quiet keep-alive handler with one way to answer, and the start-up line
the specs wait for ('listening on http://127.0.0.1:PORT')."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, doc=None, headers=()):
        """Answers status with doc as JSON (doc None: an empty body) and
        headers, a list of (name, value)."""
        payload = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve(handler):
    """Serves handler on a free loopback port until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print("listening on http://127.0.0.1:%d" % server.server_port, flush=True)
    server.serve_forever()
