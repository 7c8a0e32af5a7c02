"""Hostile: leave without a word in the middle of the run (os._exit(0) reports success)."""

import os


def test_before():
    assert 1 + 1 == 2


def test_exit_with_success():
    os._exit(0)


def test_after():
    assert 2 + 2 == 4
