# coding:utf-8
"""A Tornado server that drains itself, for hellomgr (or systemd).

An app changes one line::

    app.listen(options.port)                     # before
    hellomgr_tornado.listen(app, options.port)   # after

and starts the IOLoop as before (``IOLoop.current().start()``). The server
then:

* accepts on the listening socket the manager passes as fd 3
  (``LISTEN_FDS=1``, systemd socket activation), or binds the port itself
  when run by hand;
* says ``READY=1`` on ``NOTIFY_SOCKET`` once the IOLoop runs (sd_notify);
* on SIGTERM or SIGINT, drains: says ``STOPPING=1``, stops accepting (with
  an inherited socket only this process's copy is closed: new connections
  wait in the kernel's queue for the next process), lets requests in
  flight finish, answers the next request on each keep-alive connection
  with ``Connection: close`` and closes the connection after it, gives
  idle connections ``drain_grace`` seconds to carry that last request,
  closes the idle ones then and any still open at ``drain_timeout``, and
  stops the IOLoop, so that the app's ``start()`` returns and the process
  exits 0. A second signal exits at once, with status 1.

Closing an idle keep-alive connection at once (``close_all_connections()``)
is not a drain: nginx may be writing a request on it at that moment, and a
POST lost that way is a 502. Keep ``drain_timeout`` below the manager's stop
timeout (hellomgr: ``stop.timeout``, 10 s by default).

Standard library and Tornado 6.2 or later only.
"""

import asyncio
import logging
import os
import signal
import socket

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

log = logging.getLogger("hellomgr_tornado")


def listen(app, port, address="", *, drain_grace=1.0, drain_timeout=8.0, **kwargs):
    """Serve app on port like ``app.listen(port, address, **kwargs)``, and
    drain on SIGTERM/SIGINT. Returns the `DrainingHTTPServer`."""
    server = DrainingHTTPServer(
        app, drain_grace=drain_grace, drain_timeout=drain_timeout, **kwargs)
    sock = inherited_socket()
    if sock is None:
        server.listen(port, address)
    else:
        server.add_sockets([sock])
    IOLoop.current().add_callback(server.started)
    return server


def inherited_socket():
    """The listening socket the manager passed as fd 3 (LISTEN_FDS=1, and
    LISTEN_PID unset or this process), or None. Removes LISTEN_* from the
    environment either way, so that they do not leak to child processes."""
    fds = os.environ.pop("LISTEN_FDS", None)
    pid = os.environ.pop("LISTEN_PID", None)
    os.environ.pop("LISTEN_FDNAMES", None)
    if fds != "1" or pid not in (None, "", str(os.getpid())):
        return None
    sock = socket.socket(fileno=3)  # raises OSError if fd 3 is no socket
    sock.setblocking(False)  # shared with the manager, which keeps it so too
    return sock


def notify(state):
    """Send state (such as "READY=1") to the service manager named by
    NOTIFY_SOCKET ("@..." is in the abstract namespace); a no-op without."""
    name = os.environ.get("NOTIFY_SOCKET")
    if not name:
        return
    if name.startswith("@"):
        name = "\0" + name[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(state.encode(), name)
    except OSError as e:
        log.warning("notify %s: %s", state, e)


def _close_after_response(request_conn):
    # Relies on HTTP1Connection._disconnect_on_finish (private; there since
    # Tornado 4.0, checked against 6.2): _read_message sets it from the request's Connection
    # header just before calling headers_received; when it is true,
    # write_headers adds "Connection: close" to an HTTP/1.1 response and
    # _finish_request closes the connection once the response is written.
    # No public API does this for one connection: no_keep_alive is per
    # server, and is read only when a request arrives, not for one in flight.
    request_conn._disconnect_on_finish = True


class DrainingHTTPServer(HTTPServer):
    """An HTTPServer that knows which connections are idle and which carry a
    request, so that `drain` can close each at the right moment."""

    def initialize(self, *args, drain_grace=1.0, drain_timeout=8.0, **kwargs):
        super().initialize(*args, **kwargs)
        self.drain_grace, self.drain_timeout = drain_grace, drain_timeout
        self.draining = False
        self._signalled = False
        self._open = 0  # connections accepted and not yet closed
        self._idle = {}  # server connection -> its HTTP1Connection, awaiting a request
        self._busy = {}  # the same, with a request in flight
        self._all_closed = asyncio.Event()

    def handle_stream(self, stream, address):
        self._open += 1
        super().handle_stream(stream, address)

    def start_request(self, server_conn, request_conn):
        # Called each time a connection starts waiting for its next request.
        self._busy.pop(server_conn, None)
        self._idle[server_conn] = request_conn
        delegate = super().start_request(server_conn, request_conn)
        return _Watch(self, server_conn, request_conn, delegate)

    def on_close(self, server_conn):
        super().on_close(server_conn)
        self._open -= 1
        self._idle.pop(server_conn, None)
        self._busy.pop(server_conn, None)
        if self.draining and self._open == 0:
            self._all_closed.set()

    def request_started(self, server_conn, request_conn):
        self._idle.pop(server_conn, None)
        self._busy[server_conn] = request_conn
        if self.draining:
            _close_after_response(request_conn)

    def started(self):
        """Runs once the IOLoop does: handle signals, then say READY=1."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        notify("READY=1")

    def _on_signal(self, sig):
        if self._signalled:
            log.warning("%s again: exiting at once", signal.Signals(sig).name)
            os._exit(1)
        self._signalled = True
        log.info("%s: draining", signal.Signals(sig).name)
        IOLoop.current().add_callback(self._drain_then_stop)

    async def _drain_then_stop(self):
        try:
            await self.drain()
        finally:
            IOLoop.current().stop()

    async def drain(self):
        """Stop accepting, then close each connection after its next
        response, the idle ones after drain_grace, and the rest at
        drain_timeout (both in seconds from the call)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        notify("STOPPING=1")
        self.stop()  # closes this process's listening sockets only
        self.draining = True
        for request_conn in self._busy.values():
            _close_after_response(request_conn)
        log.info("stopped accepting: %d connections open, %d with a request in flight; "
                 "each closes after its next response (grace %.1fs)",
                 self._open, len(self._busy), self.drain_grace)
        await self._wait_closed(loop.time() + min(self.drain_grace, self.drain_timeout))
        if self._idle:
            log.info("closing %d idle connections", len(self._idle))
        for request_conn in list(self._idle.values()):
            request_conn.close()
        await self._wait_closed(deadline)
        if self._open:
            log.warning("closing %d connections still open after %.1fs",
                        self._open, self.drain_timeout)
            for request_conn in list(self._busy.values()) + list(self._idle.values()):
                request_conn.close()
        log.info("drained")

    async def _wait_closed(self, until):
        if self._open == 0:
            return
        timeout = max(0.0, until - asyncio.get_running_loop().time())
        try:
            await asyncio.wait_for(self._all_closed.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class _Watch(httputil.HTTPMessageDelegate):
    """Passes one request to the app's delegate, telling the server when
    the request arrives."""

    def __init__(self, server, server_conn, request_conn, delegate):
        self.server, self.delegate = server, delegate
        self.server_conn, self.request_conn = server_conn, request_conn

    def headers_received(self, start_line, headers):
        self.server.request_started(self.server_conn, self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        return self.delegate.finish()

    def on_connection_close(self):
        return self.delegate.on_connection_close()
