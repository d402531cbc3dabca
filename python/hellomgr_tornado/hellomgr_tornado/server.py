"""DrainingHTTPServer: an HTTPServer that takes the port's socket from
hellomgr, says READY=1, and on SIGTERM drains every kind of connection it
holds without an error for the client."""

import asyncio
import logging
import os
import signal

import tornado.autoreload
import tornado.web
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from . import metrics as _metrics
from .settings import from_env
from .systemd import LISTEN_FD, inherited_socket, notify
from .websockets import Websockets

log = logging.getLogger("hellomgr_tornado")

# A request given back is answered 421 before the app has written a byte
# of it: the location `hellomgr nginx` prints sends it again to another
# instance (nginx/proxy.go), whatever its method, through an error_page
# redirect, which starts afresh nginx's count of servers tried. (Closing
# the connection instead would let nginx resend a GET with its own
# proxy_next_upstream, but only to as many servers as the upstream has: a
# quiet poll given back at each port of a rollout runs out of them.)
HANDBACK = b"HTTP/1.1 421 Misdirected Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Request:
    """One request on one connection, as the drain sees it."""

    __slots__ = ("conn", "method", "answering", "close_after", "upgrade_late")

    def __init__(self, conn):
        self.conn, self.method = conn, None
        self.answering = False  # a byte of the response is written
        self.close_after = False  # close the connection once the response is
        self.upgrade_late = False  # a websocket handshake that arrived while draining


class DrainingHTTPServer(HTTPServer):
    """An HTTPServer that knows which connections are idle, which hold a
    request not yet answering, and which websockets are open, so that
    drain() can end each at the right moment. Use it as HTTPServer:
    ``DrainingHTTPServer(app).listen(port)``."""

    def initialize(self, request_callback, *args, drain_grace=None, drain_timeout=None,
                   metrics_path="/metrics", settings=None, **kwargs):
        super().initialize(request_callback, *args, **kwargs)
        self.drain_settings = settings or from_env(grace=drain_grace, drain_timeout=drain_timeout)
        self.draining = False
        self._signalled = self._armed = False
        self._open = 0  # HTTP connections accepted and not yet closed or detached
        self._idle = {}  # server connection -> _Request, awaiting a request
        self._busy = {}  # the same, with a request in flight
        self._closed = asyncio.Event()
        self.websockets = Websockets()
        self.metrics = _metrics.Metrics(in_flight=lambda: len(self._busy), websockets=self.websockets.count)
        self._app = request_callback if isinstance(request_callback, tornado.web.Application) else None
        if self._app is not None:
            _metrics.install(self._app, self.metrics, metrics_path, on_request=self.websockets.on_request)

    def listen(self, port, address=""):
        """Accept on the socket hellomgr passed (fd 3), or bind port on
        address when run by hand; then, once the IOLoop runs, handle
        SIGTERM/SIGINT and say READY=1."""
        autoreload = bool(self._app and self._app.settings.get("autoreload"))
        sock = inherited_socket(keep_env=autoreload)
        if sock is None:
            super().listen(port, address)
        else:
            self.add_sockets([sock])
            if autoreload:
                _keep_socket_on_autoreload()
        if not self._armed:
            self._armed = True
            IOLoop.current().add_callback(self.started)

    def started(self):
        """Runs once the IOLoop does: handle signals, then say READY=1."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        notify("READY=1")

    def handle_stream(self, stream, address):
        self._open += 1
        super().handle_stream(stream, address)

    def start_request(self, server_conn, request_conn):
        # Called each time a connection starts waiting for its next request.
        self._busy.pop(server_conn, None)
        req = self._idle[server_conn] = _Request(request_conn)
        self._watch_writes(req)
        return _Watch(self, server_conn, req, super().start_request(server_conn, request_conn))

    def _watch_writes(self, req):
        # Wraps the connection's public write_headers and finish, on this
        # one connection object: the first says a response has begun (it
        # can no longer be given back) and, while draining, adds
        # "Connection: close"; the second closes the connection once that
        # response is written. Tornado has no per-connection keep-alive
        # switch (no_keep_alive is per server, read when a request arrives).
        conn = req.conn
        write_headers, finish = conn.write_headers, conn.finish

        def watched_write_headers(start_line, headers, chunk=None):
            req.answering = True
            if self.draining:
                req.close_after = True
                headers["Connection"] = "close"
            return write_headers(start_line, headers, chunk)

        def watched_finish():
            finish()
            if req.close_after:
                _close_when_flushed(conn.stream)

        conn.write_headers, conn.finish = watched_write_headers, watched_finish

    def request_started(self, server_conn, req, start_line, headers):
        self._idle.pop(server_conn, None)
        self._busy[server_conn] = req
        req.method = start_line.method
        if self.draining:
            req.close_after = True
            # A websocket opened here now would only be closed again: it
            # goes back to nginx, to open on another instance.
            req.upgrade_late = headers.get("Upgrade", "").lower() == "websocket"

    def on_close(self, server_conn):
        super().on_close(server_conn)
        self._open -= 1
        self._idle.pop(server_conn, None)
        self._busy.pop(server_conn, None)
        if self.draining and self._open == 0:
            self._closed.set()

    def _on_signal(self, sig):
        if self._signalled:
            log.warning("%s again: exiting at once", signal.Signals(sig).name)
            os._exit(1)
        self._signalled = True
        log.info("%s: draining", signal.Signals(sig).name)
        IOLoop.current().add_callback(self._drain_then_exit)

    async def _drain_then_exit(self):
        try:
            await self.drain()
        finally:
            _end_loop()

    async def drain(self):
        """Stop accepting; close each keep-alive connection after its next
        response; send every websocket a close frame, spread over
        settings.spread; after settings.grace close the idle connections
        and give back the held requests (nginx sends them to another
        instance); close what is left at settings.deadline (all in
        seconds from the call)."""
        s, loop = self.drain_settings, asyncio.get_running_loop()
        start = loop.time()
        deadline = start + s.deadline
        notify("STOPPING=1")
        self.stop()  # closes this process's listening sockets only
        self.draining = True
        for req in self._busy.values():
            req.close_after = True
        log.info("stopped accepting: %d connections open, %d with a request in flight, %d websockets",
                 self._open, len(self._busy), self.websockets.count())
        closing = asyncio.ensure_future(self.websockets.close_spread(s.close_code, s.spread, deadline))
        await self._wait_closed(start + min(s.grace, s.deadline))
        self._close_idle_and_hand_back()
        await self._wait_closed(deadline)
        left = await closing
        if self._open or left:
            log.warning("closing %d connections and %d websockets still open after %.1fs",
                        self._open, left, s.deadline)
            for req in list(self._busy.values()) + list(self._idle.values()):
                req.conn.close()
        log.info("drained")

    def _close_idle_and_hand_back(self):
        if self._idle:
            log.info("closing %d idle connections", len(self._idle))
        for req in list(self._idle.values()):
            req.conn.close()
        held = [r for r in self._busy.values() if not r.answering]
        if held:
            log.info("handing back %d held requests", len(held))
        for req in held:
            self._hand_back(req)

    def _hand_back(self, req):
        """Give a request that has no byte of its answer back to nginx:
        answered 421, with Connection: close. The handler, if it runs,
        sees the connection close (on_connection_close)."""
        stream = req.conn.stream
        if stream is None or stream.closed():
            return
        req.answering = True
        self.metrics.handed_back(req.method)
        try:
            stream.write(HANDBACK)
        except Exception:  # closed meanwhile
            return
        _close_when_flushed(stream)

    async def _wait_closed(self, until):
        if self._open == 0:
            return
        timeout = max(0.0, until - asyncio.get_running_loop().time())
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except asyncio.TimeoutError:
            pass


def _close_when_flushed(stream):
    """Close stream once what was written to it is sent."""
    if stream is None or stream.closed():
        return
    try:
        flushed = stream.write(b"")
    except Exception:
        return
    flushed.add_done_callback(lambda _: stream.close())


def _keep_socket_on_autoreload():
    """Under Tornado's autoreload (debug=True), a file change re-executes
    the process in place (same pid): keep fd 3 open across the exec, with
    LISTEN_FDS and LISTEN_PID set (systemd.inherited_socket), so the new
    program takes the port's socket again instead of failing to bind."""
    def keep():
        os.set_inheritable(LISTEN_FD, True)
        os.environ["LISTEN_FDS"], os.environ["LISTEN_PID"] = "1", str(os.getpid())

    tornado.autoreload.add_reload_hook(keep)
    log.warning("autoreload is on (debug=True): a file change re-executes this instance in place, "
                "keeping the port's socket, but cuts what it holds, and every instance at once; "
                "turn it off (autoreload=False) and roll changes out with `hellomgr reload`")


def _end_loop():
    """End the event loop once drained, so the process exits 0: stop it
    for IOLoop.current().start(), which then returns; exit (SystemExit(0))
    when anything else still awaits, as asyncio.run(main()) does, where a
    stopped loop would raise "Event loop stopped before Future completed"."""
    current = asyncio.current_task()
    if any(t is not current and not t.done() for t in asyncio.all_tasks()):
        raise SystemExit(0)
    IOLoop.current().stop()


class _Watch(httputil.HTTPMessageDelegate):
    """Passes one request to the app's delegate, telling the server when
    the request arrives."""

    def __init__(self, server, server_conn, req, delegate):
        self.server, self.server_conn, self.req, self.delegate = server, server_conn, req, delegate

    def headers_received(self, start_line, headers):
        self.server.request_started(self.server_conn, self.req, start_line, headers)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        if self.req.upgrade_late:  # the handler never runs
            self.server._hand_back(self.req)
            return None
        return self.delegate.finish()

    def on_connection_close(self):
        return self.delegate.on_connection_close()
