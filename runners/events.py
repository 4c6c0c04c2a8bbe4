"""Events from a runner to the parent: JSON lines on an inherited pipe.

Emitted only between stages or between chunks of the timed loop, never inside a timed call.
"""

from __future__ import annotations

import json
import os
from typing import Any


class EventPipe:
    """Writes one JSON object per line to ``fd``; silent when there is no parent to listen.

    Every event names its cell, since one worker may run several (in-process mode).
    """

    def __init__(self, fd: int | None, cell_id: str) -> None:
        self._fd = fd
        self._cell_id = cell_id

    def emit(self, event: str, **fields: Any) -> None:
        """Send ``{"event": event, "cell_id": ..., **fields}``; a closed pipe stops further events."""
        if self._fd is None:
            return
        line = json.dumps({"event": event, "cell_id": self._cell_id, **fields}) + "\n"
        try:
            os.write(self._fd, line.encode())
        except OSError:  # the parent went away; the result file is what matters
            self._fd = None

    def phase(self, name: str, **fields: Any) -> None:
        """Announce that the runner entered phase ``name``."""
        self.emit("phase", phase=name, **fields)
