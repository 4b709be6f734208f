"""Shared inputs for metric tests: the reference traces and a compact trace factory."""

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.trace import Chunk, Deadlines, Trace

REFERENCE = Path(__file__).parents[2] / "data" / "reference" / "etalon_reference.json"


def load_reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


def make_trace(
    chunks: list[tuple[int, int]] | list[list[int]],
    probe_id: str = "p",
    prompt_tokens: int = 256,
    prefill_s: float | None = None,
) -> Trace:
    return Trace(
        probe_id=probe_id,
        prompt_tokens=prompt_tokens,
        chunks=tuple(Chunk(t_ns=int(t), tokens=int(k)) for t, k in chunks),
        deadlines=None if prefill_s is None else Deadlines(prefill_s=prefill_s, decode_s=()),
    )


@pytest.fixture(scope="session")
def reference() -> dict[str, Any]:
    return load_reference()
