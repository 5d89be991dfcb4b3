#!/usr/bin/python3
"""An echo server for the specs: any method on any path answers 200 with
JSON saying what it read: method, path (as sent, escapes kept), query (the
raw query string), headers (names lower-cased) and body (text).
The first line on stdout is 'listening on http://127.0.0.1:PORT'.
    python3 spec/support/echo.py"""

from json_server import JSONHandler, serve


class Handler(JSONHandler):
    def echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        path, _, query = self.path.partition("?")
        doc = {
            "method": self.command,
            "path": path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self.reply(200, doc)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = echo


if __name__ == "__main__":
    serve(Handler)
