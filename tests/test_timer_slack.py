"""The timer slack a LoadGen cell records is read back from the thread, not inferred from the set."""

import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT
from runners.probes import set_timer_slack_ns


class KernelThatKeepsItsSlack:
    """A stand-in libc whose prctl accepts PR_SET_TIMERSLACK (returns 0) yet changes nothing,
    as a kernel may (a real-time thread's slack is always 0, a container may pin it)."""

    def __init__(self, slack_ns: int) -> None:
        self.slack_ns = slack_ns
        self.calls: list[int] = []

    def prctl(self, option: int, *args: int) -> int:
        self.calls.append(option)
        return 0 if option == 29 else self.slack_ns  # PR_SET_TIMERSLACK, PR_GET_TIMERSLACK


def test_the_slack_recorded_is_the_one_read_back_not_the_one_asked() -> None:
    kernel = KernelThatKeepsItsSlack(50_000)
    assert set_timer_slack_ns(1, libc=kernel) == 50_000
    assert kernel.calls == [29, 30]


def test_on_linux_the_slack_read_back_is_what_proc_shows() -> None:
    # In a process of its own: the slack is the calling thread's, and this one is pytest's.
    code = (
        "from pathlib import Path\n"
        "from runners.probes import set_timer_slack_ns\n"
        "print(set_timer_slack_ns(1), Path('/proc/self/timerslack_ns').read_text().strip())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(PROJECT_ROOT), capture_output=True, text=True, check=True
    )
    returned, shown = proc.stdout.split()
    assert returned == shown == "1"
