#!/usr/bin/python3
"""A webhook receiver for the specs: it answers the first FAIL requests with
500, then 204, and appends each request it gets to OUT as a JSON line
{method, path, content_type, body, status}. The first line on stdout is
'listening on http://127.0.0.1:PORT'.
    python3 spec/support/webhook_receiver.py OUT [FAIL]"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = sys.argv[1]
FAIL = int(sys.argv[2]) if len(sys.argv) > 2 else 0
seen = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def receive(self):
        global seen
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        seen += 1
        status = 500 if seen <= FAIL else 204
        with open(OUT, "a") as out:
            out.write(json.dumps({"method": self.command, "path": self.path,
                                  "content_type": self.headers.get("Content-Type"),
                                  "body": body, "status": status}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_PATCH = receive


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
