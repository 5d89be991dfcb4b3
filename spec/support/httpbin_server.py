#!/usr/bin/python3
"""Debian's python3-httpbin on a free loopback port, for the specs: a real
HTTP server we did not write. The first line on stdout is
'listening on http://127.0.0.1:PORT'."""

import socket

from httpbin import app
from werkzeug.serving import make_server


def main():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("listening on http://127.0.0.1:%d" % port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
