#!/usr/bin/env python3
# coding:utf-8
"""A plain web app on the standard library alone, as `python3 -m
http.server` is built: it answers GET and POST on / with "Hello Itcast!".

    /usr/bin/python3 app.py --port 8201

It knows nothing of hellomgr: it binds its port itself and dies at once on
SIGTERM. It speaks HTTP/1.1 with a Content-Length on every response, so
nginx can keep its connections to it alive (upstream keepalive).
"""

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"Hello Itcast!"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response needs a Content-Length

    def do_GET(self):
        self.answer()

    def do_POST(self):
        # Read the body (nginx sends a Content-Length), so that the next
        # request on this connection starts where it should.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self):
        if self.path.split("?", 1)[0] != "/":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_request(self, code="-", size="-"):
        pass  # no line per request; errors still go to stderr


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Answers Hello Itcast! on /.")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("", args.port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
