#!/usr/bin/python3
"""A deliberately hostile HTTP/1.1 server for the specs: each path asks for
one misbehaviour (see ROUTES). It logs every request it reads; GET /_log
returns the log as JSON. The first line on stdout is
'listening on http://127.0.0.1:PORT'.
    python3 spec/support/hostile.py"""

import json
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

LOG = []
LOG_LOCK = threading.Lock()


def gzip_of_zeros(megabytes):
    """A gzip body that inflates to `megabytes` MB of zeros."""
    out = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    parts = [out.compress(chunk) for _ in range(megabytes)]
    parts.append(out.flush())
    return b"".join(parts)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0  # requests answered on this connection (a handler each)

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"{}", headers=()):
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with LOG_LOCK:
            if url.path != "/_log":
                LOG.append({"method": self.command, "path": self.path,
                            "key": self.headers.get("Authorization"), "body": body.decode("latin-1")})
        route = ROUTES.get(url.path.split("/")[1] if "/" in url.path else "")
        if route is None:
            return self.reply(404, b'{"error":{"message":"no such route"}}')
        route(self, query, body)
        self.served += 1

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


def one(query, name, default):
    return query.get(name, [default])[0]


def route_json(h, query, _body):
    """/json?status=N&header=Name:Value...&body=TEXT&delay=S"""
    time.sleep(float(one(query, "delay", "0")))
    headers = [tuple(v.split(":", 1)) for v in query.get("header", [])]
    h.reply(int(one(query, "status", "200")), one(query, "body", "{}").encode(), headers)


def route_redirect(h, query, _body):
    """/redirect?status=307&to=URL (default: this same URL, a loop)"""
    h.reply(int(one(query, "status", "307")), b"", [("Location", one(query, "to", h.path))])


def route_bigheader(h, query, _body):
    """/bigheader?kb=N&lines=M: M header lines of N KB each"""
    kb, lines = int(one(query, "kb", "80")), int(one(query, "lines", "1"))
    h.reply(200, b"{}", [("X-Big-%d" % i, "x" * (kb * 1024)) for i in range(lines)])


def route_bomb(h, query, _body):
    """/bomb?mb=N: a gzip body inflating to N MB"""
    body = gzip_of_zeros(int(one(query, "mb", "100")))
    h.reply(200, body, [("Content-Encoding", "gzip"), ("Content-Type", "application/octet-stream")])


def route_big(h, query, _body):
    """/big?mb=N: N MB of plain body"""
    h.reply(200, b"x" * (int(one(query, "mb", "2")) << 20), [("Content-Type", "application/octet-stream")])


def route_echo_key(h, query, _body):
    """/echo-key?json=0: the key sent, back in a 401: in its message, its
    error object, percent-encoded, and a header; json=0 sends it as text"""
    key = (h.headers.get("Authorization") or "").split(" ", 1)[-1]
    doc = {"error": {"message": "key %s is not valid" % key, "key": key, "encoded": quote(key, safe="")}}
    if one(query, "json", "1") == "0":
        return h.reply(401, ("bad key: " + json.dumps(key)).encode(), [("Content-Type", "text/plain")])
    h.reply(401, json.dumps(doc).encode(), [("X-Echo", key)])


def route_hang(h, query, _body):
    """/hang?seconds=S: no answer for S seconds (default 60)"""
    time.sleep(float(one(query, "seconds", "60")))
    h.reply(200)


def route_drop_reused(h, _query, _body):
    """/drop-reused: answers on a new connection; on one that served a
    request already, closes it unanswered, as a server that timed it out"""
    if h.served > 0:
        h.close_connection = True
        return
    h.reply(200)


def route_log(h, _query, _body):
    with LOG_LOCK:
        h.reply(200, json.dumps(LOG).encode())


ROUTES = {
    "json": route_json,
    "redirect": route_redirect,
    "bigheader": route_bigheader,
    "bomb": route_bomb,
    "big": route_big,
    "echo-key": route_echo_key,
    "hang": route_hang,
    "drop-reused": route_drop_reused,
    "_log": route_log,
}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
