"""Settings from the environment, the request series, and the autoreload
hook, in this process."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.autoreload  # noqa: E402
import tornado.testing  # noqa: E402
import tornado.web  # noqa: E402
import tornado.websocket  # noqa: E402

import hellomgr_tornado  # noqa: E402
from hellomgr_tornado import server as _server  # noqa: E402


class SettingsTest(unittest.TestCase):
    def test_from_env_follows_hellomgr(self):
        s = hellomgr_tornado.from_env({"HELLOMGR_STOP_TIMEOUT": "20", "HELLOMGR_STOP_SPREAD": "3.5",
                                       "HELLOMGR_CLOSE_CODE": "1001"})
        self.assertEqual((s.stop_timeout, s.spread, s.close_code, s.deadline), (20.0, 3.5, 1001, 19.0))

    def test_defaults_without_hellomgr(self):
        s = hellomgr_tornado.from_env({})
        self.assertEqual((s.stop_timeout, s.spread, s.close_code, s.deadline), (10.0, 2.0, 1012, 9.0))

    def test_spread_ends_before_the_deadline(self):
        s = hellomgr_tornado.from_env({"HELLOMGR_STOP_TIMEOUT": "2", "HELLOMGR_STOP_SPREAD": "5"})
        self.assertLessEqual(s.spread + s.grace, s.deadline)

    def test_overrides(self):
        s = hellomgr_tornado.from_env({"HELLOMGR_STOP_TIMEOUT": "20"}, drain_timeout=4.0, grace=0.5)
        self.assertEqual((s.deadline, s.grace), (4.0, 0.5))

    def test_bad_value_says_which_variable(self):
        with self.assertRaisesRegex(ValueError, "HELLOMGR_STOP_SPREAD"):
            hellomgr_tornado.from_env({"HELLOMGR_STOP_SPREAD": "2s"})


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("hi")

    def post(self):
        self.set_status(201)


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, m):
        self.write_message(m)


class MetricsTest(tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        self.logged = []
        app = tornado.web.Application([(r"/", Hello), (r"/ws", Echo)], log_function=self.logged.append)
        self.server = hellomgr_tornado.DrainingHTTPServer(app)
        return app

    def get_http_server(self):
        return self.server

    def test_counts_by_code_and_method_and_keeps_the_apps_log_function(self):
        for _ in range(3):
            self.fetch("/")
        self.fetch("/", method="POST", body="")
        self.fetch("/missing")
        text = self.fetch("/metrics").body.decode()
        for line in ('http_requests_total{code="200",method="get"} 3',
                     'http_requests_total{code="201",method="post"} 1',
                     'http_requests_total{code="404",method="get"} 1',
                     'http_request_duration_seconds_bucket{code="200",method="get",le="+Inf"} 3',
                     'http_request_duration_seconds_count{code="200",method="get"} 3',
                     'http_requests_in_flight 1'):
            self.assertIn(line + "\n", text)
        self.assertIn('le="0.0001"', text)
        self.assertEqual(len(self.logged), 6, "the app's own log_function still runs")

    @tornado.testing.gen_test
    async def test_sees_websockets(self):
        url = "ws://127.0.0.1:%d/ws" % self.get_http_port()
        wss = [await tornado.websocket.websocket_connect(url) for _ in range(3)]
        self.assertEqual(self.server.websockets.count(), 3)
        text = (await self.http_client.fetch(self.get_url("/metrics"))).body.decode()
        self.assertIn("http_websockets_open 3\n", text)
        self.assertIn('http_requests_total{code="101",method="get"} 3\n', text)
        wss[0].close()
        await wss[0].read_message()
        for _ in range(50):
            if self.server.websockets.count() == 2:
                break
            await tornado.gen.sleep(0.02)
        self.assertEqual(self.server.websockets.count(), 2)
        for ws in wss[1:]:
            ws.close()


class AutoreloadTest(unittest.TestCase):
    def test_the_reload_hook_keeps_the_socket(self):
        hooks = list(tornado.autoreload._reload_hooks)  # read only, to find the hook added
        _server._keep_socket_on_autoreload()
        added = [h for h in tornado.autoreload._reload_hooks if h not in hooks]
        self.assertEqual(len(added), 1)
        r, w = os.pipe()
        os.dup2(r, 3)
        try:
            os.environ.pop("LISTEN_FDS", None)
            added[0]()
            self.assertEqual((os.environ["LISTEN_FDS"], os.environ["LISTEN_PID"]), ("1", str(os.getpid())))
            self.assertTrue(os.get_inheritable(3))
        finally:
            tornado.autoreload._reload_hooks.remove(added[0])
            for fd in {r, w, 3}:
                os.close(fd)
            os.environ.pop("LISTEN_FDS", None)
            os.environ.pop("LISTEN_PID", None)


if __name__ == "__main__":
    unittest.main()
