"""What the terminal says of the frameworks' environments at start-up.

Reused environments are one line for all of them, printed once they are all known
(``environments: 5 reused in ~/.cache/inference-bench/envs (4.2 GiB)``); an environment that is
built gets a line of its own, which on a terminal shows uv's progress in place while it lasts,
and reads the same everywhere once done (one line)::

    environment pytorch: building with uv (torch from https://download.pytorch.org/whl/cpu)...
    built in 95 s (1.1 GiB)

A framework that no model of the run can run gets no environment, so no line.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.status import Status
from rich.text import Text

from orchestrator.execute.environments import Environment, WheelSource, finished_size


def size_text(size: int) -> str:
    """Bytes as ``du -h`` counts them (powers of 1024), with the unit spelled out: ``4.2 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def home_relative(path: Path) -> str:
    """``path`` with the user's home directory written ``~``, as a user would type it."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if home != "/" and (text == home or text.startswith(home + "/")) else text


class ConsoleStatus:
    """A :class:`orchestrator.execute.environments.StatusHandler` that prints to ``console`` (nothing
    when ``quiet``); :meth:`summary` prints the line of the reused environments."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self._console = console
        self._quiet = quiet
        self._reused: dict[Path, Environment] = {}
        self._head = ""
        self._live: Status | None = None

    def reused(self, env: Environment) -> None:
        """Kept for the summary line (the shared environment once, however many use it)."""
        if env.path is not None:
            self._reused.setdefault(env.path, env)

    def building(self, name: str, torch: WheelSource | None) -> None:
        """The start of the environment's line; on a terminal, a line that shows uv's steps."""
        if self._quiet:
            return
        source = "" if torch is None else f" (torch from {torch.describe()})"
        self._head = f"environment {name}: building with uv{source}..."
        if self._console.is_terminal:
            self._live = self._console.status(self._line(self._head))
            self._live.start()
        else:  # a pipe or a log: the line is finished when the build is
            self._console.print(self._head, end="", markup=False, highlight=False, soft_wrap=True)
            self._console.file.flush()

    def step(self, name: str, line: str) -> None:
        """uv's latest step, in place of the previous one (a terminal only; the torch source
        makes way for it, and is in the finished line)."""
        if self._live is not None:
            self._live.update(self._line(f"environment {name}: building with uv... {line}"))

    def finished(self, env: Environment) -> None:
        """The end of the environment's line: how long, how big, or that it failed."""
        if self._quiet:
            return
        if env.python is not None and env.path is not None:
            tail = f"built in {env.built_s or 0:.0f} s ({size_text(finished_size([env]))})"
        else:
            tail = "failed"  # the reason is told where it matters: the skipped cells, or the error
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._console.print(f"{self._head} {tail}", markup=False, highlight=False, soft_wrap=True)
        else:
            self._console.print(f" {tail}", markup=False, highlight=False, soft_wrap=True)

    def summary(self) -> None:
        """One line for every environment that was reused: how many, where, their size on disk."""
        if self._quiet or not self._reused:
            return
        environments = list(self._reused.values())
        root = home_relative(next(iter(self._reused)).parent)
        size = size_text(finished_size(environments))
        self._console.print(
            f"environments: {len(environments)} reused in {root} ({size})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def _line(self, text: str) -> Text:
        """``text`` cut to one line of the terminal beside the spinner, so it updates in place."""
        line = Text(text, no_wrap=True)
        line.truncate(max(self._console.width - 2, 10), overflow="ellipsis")
        return line
