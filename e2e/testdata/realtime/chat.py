#!/usr/bin/env python3
"""A long-polling chat room shaped like Tornado's demos/chat, written for
hellomgr's tests: POST /a/message/new adds a message, POST
/a/message/updates (and GET /a/message/poll) is held until a message
newer than the cursor exists. The room lives in the process, as in the
demo. --loop=asyncio runs it as asyncio.run(main()), the demo's style;
--loop=ioloop as IOLoop.current().start(). The one hellomgr line is
hellomgr_tornado.listen (app.listen in the demo)."""

import asyncio
import json
import os

import tornado.ioloop
import tornado.locks
import tornado.web
from tornado.options import define, options, parse_command_line

import hellomgr_tornado

define("port", default=8888, type=int)
define("loop", default="asyncio")


class Room:
    def __init__(self):
        self.changed = tornado.locks.Condition()
        self.messages = []

    def since(self, cursor):
        ids = [m["id"] for m in self.messages]
        return self.messages[ids.index(cursor) + 1:] if cursor in ids else list(self.messages)

    def add(self, body):
        m = {"id": "%d-%d" % (os.getpid(), len(self.messages)), "body": body}
        self.messages.append(m)
        self.changed.notify_all()
        return m


room = Room()


class New(tornado.web.RequestHandler):
    def post(self):
        self.write(room.add(self.get_argument("body")))


class Updates(tornado.web.RequestHandler):
    async def wait(self):
        cursor = self.get_argument("cursor", None)
        messages = room.since(cursor) if cursor else []
        while not messages:
            self.waiting = room.changed.wait()
            try:
                await self.waiting
            except asyncio.CancelledError:
                return
            messages = room.since(cursor)
        if not self.request.connection.stream.closed():
            self.write(json.dumps({"messages": messages, "pid": os.getpid()}))

    post = get = wait

    def on_connection_close(self):
        if getattr(self, "waiting", None) is not None:
            self.waiting.cancel()


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("chat %d" % os.getpid())


def make_app():
    return tornado.web.Application([
        (r"/", Hello),
        (r"/a/message/new", New),
        (r"/a/message/updates", Updates),
        (r"/a/message/poll", Updates),
    ])


async def main():
    hellomgr_tornado.listen(make_app(), options.port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parse_command_line()
    if options.loop == "asyncio":
        asyncio.run(main())
    else:
        hellomgr_tornado.listen(make_app(), options.port)
        tornado.ioloop.IOLoop.current().start()
