"""The websockets a server holds, seen from the log_function hook (a
websocket handshake is logged with status 101 once its handler is open),
and their drain: a close frame to each, spread over a window so that the
clients' reconnects arrive at a bounded rate (HAProxy's close-spread-time).

Tornado's own drain helpers skip websockets (tornado#1791): a detached
connection is no longer the HTTP server's, so without this a drain
counts them as closed, and cuts them (1006 for the client) at exit.
"""

import asyncio
import logging
import weakref

from tornado.websocket import WebSocketHandler

log = logging.getLogger("hellomgr_tornado")


class Websockets:
    """The open websockets of one server."""

    def __init__(self):
        self._handlers = weakref.WeakSet()

    def on_request(self, handler):
        """The log_function hook: remember an opened websocket."""
        if isinstance(handler, WebSocketHandler) and handler.get_status() == 101 \
                and handler.ws_connection is not None:
            self._handlers.add(handler)

    def open(self):
        """The handlers whose websocket is still open (WebSocketHandler
        sets ws_connection to None once it is closed)."""
        return [h for h in list(self._handlers) if h.ws_connection is not None]

    def count(self):
        return len(self.open())

    async def close_spread(self, code, spread, until):
        """Send each open websocket a close frame with code, the i-th of n
        at i/(n-1) of spread, then wait until every one has closed or the
        loop's clock reaches until; any opened meanwhile is closed at the
        end of the spread. Returns the number still open then."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        handlers = self.open()
        n = len(handlers)
        if n:
            log.info("closing %d websockets with %d over %.1fs", n, code, spread)
        for i, h in enumerate(handlers):
            at = start + (spread * i / (n - 1) if n > 1 else 0.0)
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            _close(h, code)
        while self.count() and loop.time() < until:
            for h in self.open():  # any opened meanwhile, too
                _close(h, code)
            await asyncio.sleep(0.05)
        return self.count()


def _close(handler, code):
    if handler.ws_connection is not None and not handler.ws_connection.is_closing():
        handler.close(code, "server restart" if code == 1012 else "going away")
