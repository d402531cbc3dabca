#!/usr/bin/env python3
"""A websocket echo server shaped like Tornado's demos/websocket, written
for hellomgr's tests: GET /ws upgrades, and each message comes back as
"<pid> <message>". --loop=asyncio runs it as asyncio.run(main());
--loop=ioloop as IOLoop.current().start(). --server=httpserver serves it
through an HTTPServer of its own (the other one-line form)."""

import asyncio
import os

import tornado.ioloop
import tornado.web
import tornado.websocket
from tornado.options import define, options, parse_command_line

import hellomgr_tornado

define("port", default=8888, type=int)
define("loop", default="asyncio")
define("server", default="listen")


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message("%d %s" % (os.getpid(), message))


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("echo %d" % os.getpid())


def serve():
    app = tornado.web.Application([(r"/", Hello), (r"/ws", Echo)])
    if options.server == "httpserver":
        hellomgr_tornado.HTTPServer(app).listen(options.port)
    else:
        hellomgr_tornado.listen(app, options.port)


async def main():
    serve()
    await asyncio.Event().wait()


if __name__ == "__main__":
    parse_command_line()
    if options.loop == "asyncio":
        asyncio.run(main())
    else:
        serve()
        tornado.ioloop.IOLoop.current().start()
