"""Waiting for what a browser or a job shows (bounded; returns the last value, never sleeps past the limit)."""

from __future__ import annotations

import time


def until(check, timeout: float = 60, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
