"""Start a test app as hellomgr would: the port's listening socket as fd 3
(LISTEN_FDS=1), NOTIFY_SOCKET for READY=1, the drain settings in the
environment."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
APPS = os.path.join(PACKAGE, "..", "..", "e2e", "testdata", "realtime")


class Instance:
    """One app process on a socket of its own; stop() sends SIGTERM and
    returns the exit status and output."""

    def __init__(self, app, *args, env=None):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="hmt")
        notify_path = os.path.join(self.dir, "n")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notify.settimeout(15)
        full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE, os.environ.get("PYTHONPATH")])), LISTEN_FDS="1", NOTIFY_SOCKET=notify_path,
                        HELLOMGR_STOP_TIMEOUT="5", HELLOMGR_STOP_SPREAD="1", HELLOMGR_CLOSE_CODE="1012")
        full_env.update(env or {})
        self.log = open(os.path.join(self.dir, "log"), "w+")
        fd = self.listener.fileno()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(APPS, app), "--port=%d" % self.port] + list(args),
            env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
            pass_fds=(3,), preexec_fn=lambda: _dup_to_3(fd))
        self.messages = []
        self.wait_for("READY=1")

    def wait_for(self, state):
        deadline = time.monotonic() + 20
        while state not in self.messages:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("no %s from %s: %s" % (state, self.proc.args, self.output()))
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except socket.timeout:
                pass

    def stop(self, timeout=15):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, self.output()

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.listener.close()
        self.notify.close()
        self.log.close()


def _dup_to_3(fd):
    if fd != 3:
        os.dup2(fd, 3)
    os.set_inheritable(3, True)
