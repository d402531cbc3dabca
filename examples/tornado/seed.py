#!/usr/bin/env python3
# coding:utf-8
"""The blog post's Tornado app as its author wrote it: one single-process
server on the port given by --port (default 8000).

It knows nothing of hellomgr: it binds its port itself and dies at once on
SIGTERM, cutting the requests it holds. nginx-drain.yaml runs it unchanged
behind nginx; hello.py is the same app with the one-line change that lets
it drain itself (config.yaml).
"""

import tornado.ioloop
import tornado.web
from tornado.options import define, options

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
    app.listen(options.port)
    tornado.ioloop.IOLoop.current().start()
