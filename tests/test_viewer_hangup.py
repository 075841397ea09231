"""SIGHUP or SIGTERM that comes while the app starts or stops (its loop not running) still ends the process.

Seen in a CI run: the terminal closed while ``watch`` was quitting; the signal cut Textual's shutdown short,
its input thread (not a daemon) went on reading a terminal that was gone, at full CPU, and the process never
ended. Here a thread that never stops stands in for it, in a process of its own."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, signal, threading, time
from watchkeeper.viewer import hangup

hangup.GRACE = {grace}
h = hangup.Hangup()
h.app = object()  # an app that is starting or stopping: no running loop to ask
threading.Thread(target=lambda: [time.sleep(0.01) for _ in iter(int, 1)]).start()  # never ends, not a daemon
os.kill(os.getpid(), signal.{sig})
{after}
"""


def run(sig: str, after: str, grace: float = 60.0) -> subprocess.CompletedProcess[str]:
    code = SCRIPT.format(sig=sig, after=after, grace=grace)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_signal_during_shutdown_ends_the_process_after_the_cleanup() -> None:
    done = run("SIGHUP", "print('cleaned up', flush=True)\nh.restore()\nh.exit_if_signalled()")
    assert (done.returncode, done.stdout) == (128 + 1, "cleaned up\n"), done.stderr


def test_a_signal_during_start_ends_the_process_after_a_grace_whatever_runs() -> None:
    done = run("SIGTERM", "time.sleep(600)", grace=0.5)
    assert done.returncode == 128 + 15, done.stderr


def test_without_a_signal_nothing_exits_early() -> None:
    done = subprocess.run([sys.executable, "-c", "from watchkeeper.viewer import hangup\nh = hangup.Hangup()\n"
                           "h.exit_if_signalled()\nprint('went on')"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "went on\n"), done.stderr


RUNNING = """
import asyncio, os, signal
from watchkeeper.viewer import hangup

hangup.GRACE = {grace}
h = hangup.Hangup()


class App:
    def exit(self, *args):  # a quit that never ends: Textual blocked writing to a terminal that is gone
        print("asked to quit", flush=True)


h.app = App()


async def main():
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.2)
    {after}
    await asyncio.sleep(600)


asyncio.run(main())
"""


def running(grace: float, after: str = "") -> subprocess.CompletedProcess[str]:
    code = RUNNING.format(grace=grace, after=after)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_quit_that_hangs_after_a_signal_ends_the_process_all_the_same() -> None:
    """Seen after a benchmark: ``watch`` processes whose terminal was closed lived on for good, indexing."""
    done = running(grace=0.5)
    assert (done.returncode, done.stdout) == (128 + 15, "asked to quit\n"), done.stderr


def test_a_second_signal_ends_the_process_at_once() -> None:
    """A stuck quit used to swallow every later SIGTERM: only SIGKILL ended it."""
    done = running(grace=600, after="os.kill(os.getpid(), signal.SIGTERM)")
    assert (done.returncode, done.stdout) == (128 + 15, "asked to quit\n"), done.stderr
