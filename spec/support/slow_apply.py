#!/usr/bin/python3
"""A proxy for the specs that plays a server slower than its client: each
request of the methods named is held for a while before it is passed on to
the server behind (where it is applied), and it is passed on even when the
client has gone meanwhile (killed, or timed out), as a real server finishes
what it started. Other requests pass at once. The first line on stdout is
'listening on http://127.0.0.1:PORT'.
    python3 spec/support/slow_apply.py UPSTREAM_URL HOLD_MS [METHODS]
METHODS: comma-separated, default POST."""

import http.client
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
HOLD = int(sys.argv[2]) / 1000
METHODS = set((sys.argv[3] if len(sys.argv) > 3 else "POST").split(","))
# Headers that describe one hop, not the request.
HOP = {"connection", "keep-alive", "host", "transfer-encoding", "proxy-connection"}


def forward(method, path, headers, body):
    """The upstream's answer to the request: status, headers, body."""
    conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, res.getheaders(), res.read()
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        # A client gone mid-hold goes unnoticed here: the write is applied.
        if self.command in METHODS:
            time.sleep(HOLD)
        status, res_headers, payload = forward(self.command, self.path, headers, body)
        try:
            self.send_response(status)
            for name, value in res_headers:
                if name.lower() not in HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client went away: applied all the same

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % server.server_port, flush=True)
    server.serve_forever()
