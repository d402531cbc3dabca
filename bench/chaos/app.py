# coding:utf-8
"""The chaos run's Tornado instance: the seed's hello app served through
python/hellomgr_tornado (socket handoff, READY=1, drain on
SIGTERM), which also writes numbered lines to stdout, so that the run can
tell a line hellomgr lost from one never written.

Each line is "chaosline <pid> <n> <unix ms>", written with one write(2)
straight to fd 1 (no buffer in this process): once a line with number n
is in a log file, every line before it of the same pid was handed to
hellomgr's pipe too.
"""

import os
import sys
import time

import tornado.ioloop
import tornado.web

import hellomgr_tornado


class IndexHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello Itcast!")

    def post(self):
        self.write("Hello Itcast!")


class Lines:
    def __init__(self):
        self.n = 0
        self.pid = os.getpid()

    def write(self):
        self.n += 1
        line = "chaosline %d %d %d\n" % (self.pid, self.n, int(time.time() * 1000))
        os.write(1, line.encode())


if __name__ == "__main__":
    port = int(sys.argv[1])
    every_ms = int(sys.argv[2])
    app = tornado.web.Application([(r"/", IndexHandler)])
    hellomgr_tornado.listen(app, port)
    lines = Lines()
    tornado.ioloop.PeriodicCallback(lines.write, every_ms).start()
    tornado.ioloop.IOLoop.current().start()
