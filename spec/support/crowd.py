#!/usr/bin/python3
"""A crowd of abusive connections for the sandbox's specs: opens N to
127.0.0.1:PORT, raising its own open-files limit first, and holds them
until stdin closes. MODE: 'idle' (connect, send nothing) or 'loris' (a
request's headers a byte a second, never finished). Prints 'ready N' once
they are open, and at the end 'closed K': how many the server closed.
    spec/support/crowd.py PORT N MODE"""

import resource
import socket
import sys
import threading
import time


def main():
    port, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 64)), hard))
    crowd = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        crowd.append(s)
    print("ready %d" % len(crowd), flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    request = b"GET /services HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 1000
    sent = 0
    while not done.is_set():
        if mode == "loris" and sent < len(request):
            for s in crowd:
                try:
                    s.send(request[sent:sent + 1])
                except OSError:
                    pass
            sent += 1
        done.wait(1)
    closed = 0
    for s in crowd:
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print("closed %d" % closed, flush=True)


if __name__ == "__main__":
    main()
