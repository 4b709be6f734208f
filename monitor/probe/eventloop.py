"""Run a coroutine on uvloop when installed (less CPU per chunk, tighter tail), else on asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop  # noqa: PLC0415  (optional dependency)
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result
