"""The drain settings hellomgr passes in each instance's environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """How an instance drains, in seconds.

    stop_timeout: hellomgr's ``stop.timeout``: the process is killed then.
    spread: ``stop.spread``: websockets' close frames are spread over it.
    close_code: ``stop.close_code``: 1012 (service restart) or 1001.
    grace: how long idle keep-alive connections may carry a last request,
        and how long a request may take to start answering before it is
        taken for a held one (a long-poll) and handed back.
    """

    stop_timeout: float = 10.0
    spread: float = 2.0
    close_code: int = 1012
    grace: float = 1.0
    drain_timeout: float = None  # listen(drain_timeout=...): the deadline itself

    @property
    def deadline(self):
        """Seconds from SIGTERM by which everything is closed: drain_timeout
        if given, else a second before stop_timeout (a fifth of it, when shorter than 5s), so the
        process exits 0 before the manager's SIGKILL."""
        if self.drain_timeout is not None:
            return self.drain_timeout
        return max(0.1, self.stop_timeout - 1.0, self.stop_timeout * 0.8)


def _number(env, name, default, kind=float):
    text = env.get(name)
    if text in (None, ""):
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError("hellomgr_tornado: %s=%r is not a number of the kind hellomgr passes; "
                         "unset it or fix the config's stop section" % (name, text)) from None
    if value < 0:
        raise ValueError("hellomgr_tornado: %s=%r is negative" % (name, text))
    return value


def from_env(env=None, **overrides):
    """Settings from HELLOMGR_STOP_TIMEOUT, HELLOMGR_STOP_SPREAD and
    HELLOMGR_CLOSE_CODE (what hellomgr sets), defaults where unset, then
    overrides (keyword arguments of listen) on top."""
    env = os.environ if env is None else env
    s = Settings(
        stop_timeout=_number(env, "HELLOMGR_STOP_TIMEOUT", Settings.stop_timeout),
        spread=_number(env, "HELLOMGR_STOP_SPREAD", Settings.spread),
        close_code=_number(env, "HELLOMGR_CLOSE_CODE", Settings.close_code, int),
    )
    given = {k: v for k, v in overrides.items() if v is not None}
    s = Settings(**{**s.__dict__, **given})
    # The spread must end before the deadline, or the last closes are cut.
    return Settings(**{**s.__dict__, "spread": min(s.spread, max(0.0, s.deadline - s.grace))})
