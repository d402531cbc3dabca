"""The drain of a real app process, in both event-loop styles: websockets
closed with the configured code, spread over stop.spread; held requests
handed back before any byte of their answer (421, which nginx resends);
keep-alive connections closed after their next response; exit 0."""

import asyncio
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.websocket  # noqa: E402

from helpers import Instance  # noqa: E402


def http(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(request)
    return s


def read_all(s):
    chunks = []
    with s:
        return _read(s, chunks)


def _read(s, chunks):
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


class DrainTest(unittest.TestCase):
    def drain(self, loop):
        async def scenario():
            inst = Instance("echo.py", "--loop=" + loop)
            chat = None
            try:
                wss = [await tornado.websocket.websocket_connect("ws://127.0.0.1:%d/ws" % inst.port) for _ in range(5)]
                await wss[0].write_message("hi")
                self.assertTrue((await wss[0].read_message()).endswith(" hi"))
                # A keep-alive connection, idle.
                idle = http(inst.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                await asyncio.sleep(0.2)
                t0 = time.monotonic()
                inst.proc.send_signal(15)
                async def closed_at(ws):
                    self.assertIsNone(await asyncio.wait_for(ws.read_message(), 10))
                    self.assertEqual(ws.close_code, 1012, "close code")
                    return time.monotonic() - t0
                closed = await asyncio.gather(*map(closed_at, wss))
                code = await asyncio.get_running_loop().run_in_executor(None, inst.proc.wait, 15)
                out = inst.output()
                self.assertEqual(code, 0, out)
                self.assertGreater(max(closed) - min(closed), 0.5, "closes not spread: %s" % closed)
                self.assertIn(b"200 OK", read_all(idle))
                for ws in wss:
                    ws.close()
            finally:
                inst.close()
        asyncio.run(scenario())

    def test_websockets_ioloop(self):
        self.drain("ioloop")

    def test_websockets_asyncio(self):
        self.drain("asyncio")

    def hand_back(self, loop):
        inst = Instance("chat.py", "--loop=" + loop)
        try:
            get = http(inst.port, b"GET /a/message/poll?cursor=x HTTP/1.1\r\nHost: x\r\n\r\n")
            body = b"cursor=x"
            post = http(inst.port, b"POST /a/message/updates HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n%s" % (len(body), body))
            time.sleep(0.3)
            code, out = inst.stop()
            self.assertEqual(code, 0, out)
            self.assertTrue(read_all(get).startswith(b"HTTP/1.1 421 "), "a held GET is given back with 421")
            self.assertTrue(read_all(post).startswith(b"HTTP/1.1 421 "), "a held POST is given back with 421")
            self.assertIn("handing back 2 held requests", out)
        finally:
            inst.close()

    def test_late_requests_are_served_then_closed(self):
        inst = Instance("chat.py", "--loop=ioloop")
        try:
            conn = http(inst.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"chat ", conn.recv(4096))
            inst.proc.send_signal(15)
            time.sleep(0.3)  # draining, within the grace: the connection is still open
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_all(conn)
            self.assertIn(b"Connection: close", answer)
            self.assertIn(b"chat ", answer)
            self.assertEqual(inst.proc.wait(15), 0, inst.output())
        finally:
            inst.close()

    def test_late_websocket_handshake_goes_back(self):
        inst = Instance("echo.py", "--loop=asyncio")
        try:
            conn = http(inst.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"echo ", conn.recv(4096))
            inst.proc.send_signal(15)
            time.sleep(0.3)
            conn.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            self.assertTrue(read_all(conn).startswith(b"HTTP/1.1 421 "), "a handshake while draining goes back to nginx")
            self.assertEqual(inst.proc.wait(15), 0, inst.output())
        finally:
            inst.close()

    def test_hand_back_ioloop(self):
        self.hand_back("ioloop")

    def test_hand_back_asyncio(self):
        self.hand_back("asyncio")

    def test_httpserver_form(self):
        inst = Instance("echo.py", "--loop=ioloop", "--server=httpserver")
        try:
            s = http(inst.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertIn(b"http_requests_in_flight 1", read_all(s))
            code, out = inst.stop()
            self.assertEqual(code, 0, out)
        finally:
            inst.close()


if __name__ == "__main__":
    unittest.main()
