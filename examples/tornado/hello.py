#!/usr/bin/env python3
# coding:utf-8
"""The seed's Tornado hello app, one single-process server per port.

hellomgr starts one of these per port listed in config.yaml:
    /usr/bin/python3 hello.py --port=8001
It is the blog post's app as written, with two additions a deployment needs:
the port comes from the command line, and when hellomgr passes the port's
listening socket (LISTEN_FDS=1, as systemd socket activation does), the
server accepts on that socket instead of binding the port itself, so that no
connection is refused while hellomgr replaces this process with a new one.
"""

import os
import socket

import tornado.httpserver
import tornado.ioloop
import tornado.web
from tornado.options import define, options

define("port", default=8000, type=int, help="port to listen on")


class IndexHandler(tornado.web.RequestHandler):
    """主路由处理类"""

    def get(self):
        """对应http的get请求方式"""
        self.write("Hello Itcast!")

    def post(self):
        """对应http的post请求方式"""
        self.write("Hello Itcast!")


def inherited_socket():
    """The listening socket passed by hellomgr as fd 3, or None."""
    if os.environ.get("LISTEN_FDS") != "1":
        return None
    sock = socket.socket(fileno=3)
    sock.setblocking(False)
    return sock


if __name__ == "__main__":
    options.parse_command_line()
    app = tornado.web.Application([
        (r"/", IndexHandler),
    ])
    http_server = tornado.httpserver.HTTPServer(app)
    sock = inherited_socket()
    if sock is not None:
        http_server.add_sockets([sock])
    else:
        http_server.listen(options.port)
    tornado.ioloop.IOLoop.current().start()
