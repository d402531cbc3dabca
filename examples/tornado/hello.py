#!/usr/bin/env python3
# coding:utf-8
"""The seed's Tornado hello app, one single-process server per port.

hellomgr starts one of these per port listed in config.yaml:
    /usr/bin/python3 hello.py --port=8101
It is the blog post's app (seed.py) with one line changed:
app.listen(options.port) became hellomgr_tornado.listen(app, options.port).
That makes the server accept on the listening socket hellomgr passes (fd 3,
LISTEN_FDS=1), say READY=1 once it serves, and drain on SIGTERM (stop
accepting, finish what it holds, close each keep-alive connection after its
next response, give held requests back to nginx, close websockets with a
close frame), so that a reload never fails a request. Run by hand, it
binds the port itself, as before. hellomgr_tornado is the package in
python/hellomgr_tornado (see its README.md: pip install it into a
virtualenv, or set PYTHONPATH as config.yaml does).
"""

import tornado.ioloop
import tornado.web
from tornado.options import define, options

import hellomgr_tornado

define("port", default=8000, type=int, help="run server on the given port")


class IndexHandler(tornado.web.RequestHandler):
    """主路由处理类"""

    def get(self):
        """对应http的get请求方式"""
        self.write("Hello Itcast!")

    def post(self):
        """对应http的post请求方式"""
        self.write("Hello Itcast!")


if __name__ == "__main__":
    options.parse_command_line()
    app = tornado.web.Application([
        (r"/", IndexHandler),
    ])
    hellomgr_tornado.listen(app, options.port)
    tornado.ioloop.IOLoop.current().start()
