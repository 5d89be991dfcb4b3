#!/usr/bin/python3
"""A paginated list server for the pagination specs: ITEMS items (ids 1 to
ITEMS, from ?items=, default 12) in pages of ?size= (default 5), paged as
each route says. It logs every request; GET /_log returns the log as JSON.
The first line on stdout is 'listening on http://127.0.0.1:PORT'.
    python3 spec/support/pages.py"""

import threading
from urllib.parse import parse_qs, urlencode, urlsplit

from json_server import JSONHandler, serve

LOG = []
LOG_LOCK = threading.Lock()


def page_of(query, number):
    """The items of page number (from 1), and whether a page follows."""
    items, size = int(query.get("items", 12)), int(query.get("size", 5))
    first = (number - 1) * size
    ids = list(range(first + 1, min(first + size, items) + 1))
    return [{"id": i} for i in ids], first + size < items


def with_query(query, **changes):
    merged = dict(query)
    merged.update({k: str(v) for k, v in changes.items()})
    return urlencode(sorted(merged.items()))


def route_link(h, path, query):
    """Link: <URL>; rel="next", absolute (or relative with ?relative=1)."""
    number = int(query.get("p", 1))
    data, more = page_of(query, number)
    headers = []
    if more:
        target = "%s?%s" % (path, with_query(query, p=number + 1))
        if "relative" not in query:
            target = "http://127.0.0.1:%d%s" % (h.server.server_port, target)
        headers.append(("Link", '<%s?first=1>; rel="first", <%s>; rel="next"' % (path, target)))
    return 200, headers, {"data": data}


def route_meta(h, path, query):
    """The sandbox's form: meta.next_page, null on the last page."""
    number = int(query.get("page", 1))
    data, more = page_of(query, number)
    return 200, [], {"data": data, "meta": {"page": number, "next_page": number + 1 if more else None}}


def route_numbered(h, path, query):
    """Only the items: the client counts pages itself."""
    data, _ = page_of(query, int(query.get("page", 1)))
    return 200, [], {"results": data}


def route_cursor(h, path, query):
    """A cursor: the id to start after, in paging.next ('' at the end)."""
    after, size, items = int(query.get("after", 0)), int(query.get("size", 5)), int(query.get("items", 12))
    data = [{"id": i} for i in range(after + 1, min(after + size, items) + 1)]
    last = data[-1]["id"] if data else after
    return 200, [], {"data": data, "paging": {"next": str(last) if last < items else ""}}


def route_bare(h, path, query):
    """A bare JSON array per page, the next one in a Link header."""
    number = int(query.get("page", 1))
    data, more = page_of(query, number)
    headers = [("Link", '<%s?page=%d>; rel="next"' % (path, number + 1))] if more else []
    return 200, headers, data


def route_endless(h, path, query):
    """Always one more page."""
    number = int(query.get("page", 1))
    return 200, [], {"data": [{"id": number}], "meta": {"next_page": number + 1}}


def route_failing(h, path, query):
    """Page 3 fails with 400, the 'error' envelope and all."""
    number = int(query.get("page", 1))
    if number == 3:
        return 400, [], {"error": {"code": "bad_page", "message": "page 3 is broken"}}
    return route_meta(h, path, query)


def route_same(h, path, query):
    """A next link to this very page, as a broken server may send."""
    return 200, [("Link", '<%s?p=1>; rel="next"' % path)], {"data": [{"id": 1}]}


def route_circle(h, path, query):
    """Pages 1, 2, 3, then page 2 again: a cycle."""
    number = int(query.get("page", 1))
    return 200, [], {"data": [{"id": number}], "meta": {"next_page": 2 if number == 3 else number + 1}}


def route_foreign(h, path, query):
    """A next link to another origin."""
    return 200, [("Link", '<http://elsewhere.example/list?p=2>; rel="next"')], {"data": [{"id": 1}]}


ROUTES = {
    "/link": route_link,
    "/meta": route_meta,
    "/numbered": route_numbered,
    "/cursor": route_cursor,
    "/endless": route_endless,
    "/bare": route_bare,
    "/failing": route_failing,
    "/foreign": route_foreign,
    "/same": route_same,
    "/circle": route_circle,
}


class Handler(JSONHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/_log":
            with LOG_LOCK:
                status, headers, body = 200, [], list(LOG)
        else:
            with LOG_LOCK:
                LOG.append(self.path)
            route = ROUTES.get(url.path)
            if route:
                status, headers, body = route(self, url.path, query)
            else:
                status, headers, body = 404, [], {"error": {"code": "not_found", "message": url.path}}
        self.reply(status, body, headers)


if __name__ == "__main__":
    serve(Handler)
