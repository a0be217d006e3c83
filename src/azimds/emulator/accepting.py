"""Running out of descriptors while accepting connections: one log line per interval.

When the open-file limit is reached, asyncio's accept loop reports every refused accept to the
event loop's exception handler (up to the listen backlog, 512, per wake-up, every second)
and tries again a second later on its own. The default handler logs a traceback each time:
tens of megabytes of standard error in seconds, whatever the log level.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from typing import Any, Callable, Dict, Optional

LOG = logging.getLogger("azimds.emulator")
INTERVAL = 10.0  # seconds between two reports
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class AcceptFailureLog:
    """An event-loop exception handler: out-of-descriptor accepts become one line per
    interval; everything else goes to the loop's default handler.

    ``stopping`` is set when the emulator closes its listening sockets: the accept retries
    asyncio still has scheduled for them then fail on a closed socket, which is expected.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, interval: float = INTERVAL):
        self._clock = clock
        self._interval = interval
        self._last: Optional[float] = None
        self._unreported = 0
        self.stopping = False

    def __call__(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        exception = context.get("exception")
        if self.stopping and isinstance(exception, ValueError):  # fileno() -1: socket closed
            LOG.debug("azimds emulator: while stopping: %s", context.get("message"))
            return
        if not isinstance(exception, OSError) or exception.errno not in _OUT_OF_RESOURCES:
            loop.default_exception_handler(context)
            return
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._unreported += 1
            return
        since = f"; {self._unreported} more since the last report" if self._unreported else ""
        LOG.error(
            "azimds emulator: cannot accept connections: %s (open file limit %s%s). New "
            "connections wait until others close; raise the limit with 'ulimit -n' to serve "
            "more at once",
            exception.strerror or exception,
            resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            since,
        )
        self._last = now
        self._unreported = 0
