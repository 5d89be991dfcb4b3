#!/usr/bin/python3
"""A server of cacheable answers for the response cache's specs. Every GET
answers 200 with JSON {path, query, version, n} and an ETag and
Last-Modified of the path's version, or 304 to a matching If-None-Match;
a write (POST, PUT, PATCH, DELETE) to a path bumps its version. GET
/nostore answers with Cache-Control: no-store; GET /echo-key puts the key
sent in the body; GET /error-in-200 answers 200 with an error object, as
some of the API's endpoints do; GET /truncated answers 200 with half a JSON
document (its Content-Length says as much); GET /big?size=N pads its
answer with N bytes. A key starting with "bad" is answered 401. POST
/_fail?status=503 makes every later answer that status (/_fail?status=0
ends it). GET /_log lists the requests read, as
"METHOD path?query [If-None-Match]". The first line on stdout is
'listening on http://127.0.0.1:PORT'.
    python3 spec/support/cacheable.py"""

import threading

from json_server import JSONHandler, serve

LOCK = threading.Lock()
LOG = []
VERSIONS = {}
STATE = {"fail": 0, "served": 0}


class Handler(JSONHandler):
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path, _, query = self.path.partition("?")
        if path == "/_log":
            with LOCK:
                return self.reply(200, list(LOG))
        if path == "/_fail":
            STATE["fail"] = int(query.split("=")[1])
            return self.reply(200, {"fail": STATE["fail"]})
        with LOCK:
            LOG.append("%s %s %s" % (self.command, self.path, self.headers.get("If-None-Match") or "-"))
            STATE["served"] += 1
            served = STATE["served"]
        if STATE["fail"]:
            return self.reply(STATE["fail"], {"error": {"code": "down", "message": "failing on purpose"}})
        if (self.headers.get("Authorization") or "").split(" ", 1)[-1].startswith("bad"):
            return self.reply(401, {"error": {"code": 401, "message": "unknown API key"}})
        if path == "/error-in-200":
            return self.reply(200, {"error": {"code": 502, "message": "invalid id"}, "data": None, "n": served})
        if path == "/truncated":
            payload = b'{"path": "/truncated", "n": %d, "items": [1, 2' % served
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            return self.wfile.write(payload)
        if self.command != "GET":
            with LOCK:
                VERSIONS[path] = VERSIONS.get(path, 0) + 1
            return self.reply(200, {"path": path, "version": VERSIONS[path]})
        version = VERSIONS.get(path, 0)
        etag = '"v%d-%s"' % (version, path)
        modified = "Wed, 02 Dec 2026 10:%02d:00 GMT" % (version % 60)
        if self.headers.get("If-None-Match") == etag:
            return self.reply(304, None, [("ETag", etag)])
        headers = [("ETag", etag), ("Last-Modified", modified)]
        doc = {"path": path, "query": query, "version": version, "n": served}
        if path == "/nostore":
            headers.append(("Cache-Control", "no-store"))
        if path == "/echo-key":
            doc["key"] = (self.headers.get("Authorization") or "").split(" ", 1)[-1]
        if path == "/big":
            doc["pad"] = "x" * int(query.split("size=")[1].split("&")[0])
        self.reply(200, doc, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


if __name__ == "__main__":
    serve(Handler)
