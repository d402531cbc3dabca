"""The request series the built-in server exports (hello/metrics.go), kept
from Tornado's public per-request hook, the ``log_function`` application
setting, and served on the app's own /metrics:

* ``http_requests_total{code,method}``: requests answered;
* ``http_request_duration_seconds{code,method}``: a histogram of the time
  from the start of the request to its end (``request.request_time()``),
  with the built-in server's buckets (0.1 ms doubling 16 times);
* ``http_requests_in_flight``: requests being handled now;
* ``http_websockets_open``: websockets open now (this integration only);
* ``hellomgr_tornado_handed_back_total{method}``: held requests a drain
  gave back to nginx to be sent to another instance.

Labels are bounded as the built-in server bounds them: the method is one
of a fixed set (lower case) or "unknown", the code 100-599 or "unknown".
"""

import threading
import types

import tornado.web

METHODS = ("get", "head", "post", "put", "delete", "connect", "options", "notify", "trace", "patch")
BUCKETS = tuple(0.0001 * 2 ** i for i in range(16))


def method_label(method):
    m = (method or "").lower()
    return m if m in METHODS else "unknown"


def code_label(code):
    return str(code) if 100 <= code <= 599 else "unknown"


class _Series:
    __slots__ = ("count", "total", "buckets")

    def __init__(self):
        self.count, self.total, self.buckets = 0, 0.0, [0] * len(BUCKETS)

    def observe(self, seconds):
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
                break


class Metrics:
    """One server's request figures. in_flight and websockets are
    callables read at scrape time (the server owns those counts)."""

    def __init__(self, in_flight=lambda: 0, websockets=lambda: 0):
        self._lock = threading.Lock()  # log_function may run from a thread in odd apps
        self._series = {}  # (code, method) -> _Series
        self._handed_back = {}  # method -> count
        self.in_flight, self.websockets = in_flight, websockets

    def observe(self, handler):
        """Count one finished request: the log_function hook."""
        key = (code_label(handler.get_status()), method_label(handler.request.method))
        seconds = handler.request.request_time()
        with self._lock:
            s = self._series.get(key)
            if s is None:
                s = self._series[key] = _Series()
            s.observe(seconds)

    def handed_back(self, method):
        with self._lock:
            m = method_label(method)
            self._handed_back[m] = self._handed_back.get(m, 0) + 1

    def requests(self, code, method):
        """The count of one series, for tests."""
        with self._lock:
            s = self._series.get((str(code), method))
            return s.count if s else 0

    def exposition(self):
        """The series in Prometheus' text format (version 0.0.4)."""
        with self._lock:
            series = sorted((k, (s.count, s.total, list(s.buckets))) for k, s in self._series.items())
            handed = sorted(self._handed_back.items())
        out = ["# HELP http_requests_total HTTP requests answered, by status code and method.",
               "# TYPE http_requests_total counter"]
        out += ['http_requests_total{code="%s",method="%s"} %d' % (c, m, n) for (c, m), (n, _, _) in series]
        out += ["# HELP http_request_duration_seconds Time from the start of the request to its end, by status code and method.",
                "# TYPE http_request_duration_seconds histogram"]
        for (c, m), (n, total, buckets) in series:
            cum = 0
            for bound, k in zip(BUCKETS, buckets):
                cum += k
                out.append('http_request_duration_seconds_bucket{code="%s",method="%s",le="%r"} %d' % (c, m, bound, cum))
            out.append('http_request_duration_seconds_bucket{code="%s",method="%s",le="+Inf"} %d' % (c, m, n))
            out.append('http_request_duration_seconds_sum{code="%s",method="%s"} %r' % (c, m, total))
            out.append('http_request_duration_seconds_count{code="%s",method="%s"} %d' % (c, m, n))
        out += ["# HELP http_requests_in_flight HTTP requests being handled now.",
                "# TYPE http_requests_in_flight gauge",
                "http_requests_in_flight %d" % self.in_flight(),
                "# HELP http_websockets_open Websockets open now.",
                "# TYPE http_websockets_open gauge",
                "http_websockets_open %d" % self.websockets(),
                "# HELP hellomgr_tornado_handed_back_total Held requests a drain gave back to nginx, to be sent to another instance.",
                "# TYPE hellomgr_tornado_handed_back_total counter"]
        out += ['hellomgr_tornado_handed_back_total{method="%s"} %d' % kv for kv in handed]
        return "\n".join(out) + "\n"


class MetricsHandler(tornado.web.RequestHandler):
    """Serves Metrics.exposition(); initialize(metrics=...)."""

    def initialize(self, metrics):
        self.metrics = metrics

    def get(self):
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(self.metrics.exposition())


# Application.log_request writes the access log line only when no
# log_function is set; called with settings without one, it does.
_NO_HOOK = types.SimpleNamespace(settings={})


def _access_log(handler):
    tornado.web.Application.log_request(_NO_HOOK, handler)


def install(app, metrics, path="/metrics", on_request=None):
    """Hook metrics into app: wrap its log_function (kept: it still runs)
    and serve path, unless path is None. on_request(handler), if given,
    runs first for every finished request (the websocket tracker)."""
    previous = app.settings.get("log_function") or _access_log

    def log_function(handler):
        if on_request is not None:
            on_request(handler)
        metrics.observe(handler)
        previous(handler)

    app.settings["log_function"] = log_function
    if path is not None:
        app.add_handlers(r".*", [(path, MetricsHandler, {"metrics": metrics})])
