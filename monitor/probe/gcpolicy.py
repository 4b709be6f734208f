"""Keep garbage-collection pauses out of the timestamps.

A full collection walks every tracked object, and after start-up most of them are modules, classes
and config that will live as long as the process. Freezing them moves them to the permanent
generation, so the collections that do happen while streams are being read walk only what the
probes themselves allocated (which `assemble` keeps small). Call once, after start-up, before the
first probe; it is process-wide, so it belongs to the entry point (CLI, daemon, benchmark).
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    gc.collect()
    gc.freeze()
