"""What crosses from hellomgr (or systemd) to the process: the listening
socket (fd 3, LISTEN_FDS=1) and the notify socket (READY=1)."""

import logging
import os
import socket

log = logging.getLogger("hellomgr_tornado")

LISTEN_FD = 3


def inherited_socket(keep_env=False):
    """The listening socket the manager passed as fd 3 (LISTEN_FDS=1, and
    LISTEN_PID unset or this process), or None.

    Removes LISTEN_* from the environment, so that they do not leak to
    child processes, unless keep_env: then LISTEN_PID is set to this
    process, which is what a re-exec of the same process (Tornado's
    autoreload) needs to find the socket again, and what makes any child
    ignore it."""
    fds = os.environ.get("LISTEN_FDS")
    pid = os.environ.get("LISTEN_PID")
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if fds != "1" or pid not in (None, "", str(os.getpid())):
        return None
    if keep_env:
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
    sock = socket.socket(fileno=LISTEN_FD)  # raises OSError if fd 3 is no socket
    sock.setblocking(False)  # shared with the manager, which keeps it so too
    return sock


def notify(state):
    """Send state (such as "READY=1") to the service manager named by
    NOTIFY_SOCKET ("@..." is in the abstract namespace); a no-op without."""
    name = os.environ.get("NOTIFY_SOCKET")
    if not name:
        return
    if name.startswith("@"):
        name = "\0" + name[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(state.encode(), name)
    except OSError as e:
        log.warning("notify %s: %s", state, e)
