"""Run a Tornado app under hellomgr (or systemd) and drain it on SIGTERM.

An app changes one line::

    app.listen(options.port)                     # before
    hellomgr_tornado.listen(app, options.port)   # after

or, with an HTTPServer of its own::

    HTTPServer(app).listen(options.port)                   # before
    hellomgr_tornado.HTTPServer(app).listen(options.port)  # after

and starts its loop as before, ``IOLoop.current().start()`` or
``asyncio.run(main())``. See README.md for what the server then does.
"""

from .metrics import Metrics, MetricsHandler
from .server import DrainingHTTPServer
from .settings import Settings, from_env
from .systemd import inherited_socket, notify

HTTPServer = DrainingHTTPServer

__all__ = ["listen", "HTTPServer", "DrainingHTTPServer", "Metrics", "MetricsHandler",
           "Settings", "from_env", "inherited_socket", "notify"]


def listen(app, port, address="", *, drain_grace=None, drain_timeout=None,
           metrics_path="/metrics", **kwargs):
    """Serve app on port like ``app.listen(port, address, **kwargs)``, and
    drain on SIGTERM/SIGINT. The drain follows hellomgr's stop.timeout,
    stop.spread and stop.close_code (from the environment); drain_grace and
    drain_timeout (seconds) override them. The request series are served
    on metrics_path (None: not served). Returns the DrainingHTTPServer."""
    server = DrainingHTTPServer(app, drain_grace=drain_grace, drain_timeout=drain_timeout,
                                metrics_path=metrics_path, **kwargs)
    server.listen(port, address)
    return server
