"""Hostile: never finish, plainly and while dodging every per-test clock."""

import faulthandler
import signal
import time


def test_sleeps_forever():
    time.sleep(10**6)


def test_dodges_every_clock():
    faulthandler.cancel_dump_traceback_later()
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    while True:
        time.sleep(10**6)
