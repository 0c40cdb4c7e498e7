"""Shared plumbing of the vendor stand-ins: an in-memory HTTP server on
127.0.0.1 (stdlib only), JSON helpers and the command line.

Each stand-in covers exactly the endpoints vdr's plugin uses, with the
request and response shapes of the vendor's published API reference. They
are test doubles, not the real engines: see each module's docstring for what
is modelled and what is not.
"""

import argparse
import json
import re
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# One lock for all state: requests are served on threads.
LOCK = threading.RLock()


def f32(x):
    """Round a Python float to the nearest float32, as engines store it."""
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


class Reply(Exception):
    """Raised by a route to answer with a status and a body."""

    def __init__(self, status, body, content_type="application/json", headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class Request:
    def __init__(self, handler, method):
        parts = urlsplit(handler.path)
        self.method = method
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = handler.headers
        length = int(handler.headers.get("content-length") or 0)
        self.raw = handler.rfile.read(length) if length else b""

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        if not self.raw:
            return {}
        try:
            return json.loads(self.raw)
        except ValueError as e:
            raise Reply(400, {"error": f"invalid JSON body: {e}"}) from e


def make_handler(routes, auth):
    """`routes`: list of (METHOD, regex, fn(req, *groups)) tried in order;
    `auth(req)` raises Reply when the request is not allowed."""
    compiled = [(m, re.compile("^" + p + "$"), fn) for m, p, fn in routes]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet unless debugging
            if "-v" in sys.argv:
                super().log_message(fmt, *args)

        def _serve(self, method):
            try:
                req = Request(self, method)
                for m, pattern, fn in compiled:
                    match = pattern.match(req.path)
                    if m == method and match:
                        auth(req)
                        with LOCK:
                            result = fn(req, *match.groups())
                        raise Reply(200, result) if not isinstance(result, Reply) else result
                raise Reply(404, {"error": f"no route for {method} {req.path}"})
            except Reply as r:
                self._send(r)
            except Exception as e:  # a stand-in bug: show it, as a 500
                self._send(Reply(500, {"error": f"stand-in error: {e!r}"}))

        def _send(self, r):
            if isinstance(r.body, (bytes, bytearray)):
                body = bytes(r.body)
            elif isinstance(r.body, str):
                body = r.body.encode()
            else:
                body = json.dumps(r.body).encode()
            self.send_response(r.status)
            self.send_header("content-type", r.content_type)
            self.send_header("content-length", str(len(body)))
            for k, v in r.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_PUT(self):
            self._serve("PUT")

        def do_PATCH(self):
            self._serve("PATCH")

        def do_DELETE(self):
            self._serve("DELETE")

        def do_HEAD(self):
            self._serve("HEAD")

    return Handler


def main(name, build):
    """`build(args)` returns (routes, auth)."""
    parser = argparse.ArgumentParser(description=f"{name} stand-in (in memory, 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=None, help="require this API key")
    parser.add_argument("-v", action="store_true", help="log requests")
    args = parser.parse_args()
    routes, auth = build(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(routes, auth))
    server.daemon_threads = True
    print(f"{name} stand-in listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
