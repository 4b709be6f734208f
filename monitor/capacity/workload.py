"""What a capacity step sends: open-loop arrival times and each request's (prompt, output) lengths.

Arrivals are open-loop: request `i` is due at its scheduled time whether or not earlier requests
have finished, because users do not wait for each other. Poisson arrivals (exponential gaps) are the
default; `uniform` spaces them evenly. Everything is drawn from a seeded generator, so the same seed
and QPS give the same schedule and lengths on every run.

Lengths come from one of three sources, written as `--lengths` text:
`fixed:P,O` (every request P prompt and O output tokens), `uniform:P1-P2,O1-O2` (integers drawn
uniformly), or `file:PATH` (a CSV or whitespace file of `prompt output` pairs, cycled in order).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ARRIVALS: Final = ("poisson", "uniform")
MAX_FILE_ROWS: Final = 1_000_000
"""A lengths file longer than this is refused rather than read into memory."""


@dataclass(frozen=True, slots=True)
class RequestShape:
    prompt_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Lengths:
    """A source of request shapes: fixed, uniform ranges, or a list cycled in order."""

    kind: str
    shapes: tuple[RequestShape, ...] = ()
    prompt_range: tuple[int, int] = (0, 0)
    output_range: tuple[int, int] = (0, 0)

    def draw(self, count: int, rng: random.Random) -> list[RequestShape]:
        if self.kind == "uniform":
            return [
                RequestShape(rng.randint(*self.prompt_range), rng.randint(*self.output_range))
                for _ in range(count)
            ]
        return [self.shapes[i % len(self.shapes)] for i in range(count)]

    def describe(self) -> str:
        if self.kind == "uniform":
            (p1, p2), (o1, o2) = self.prompt_range, self.output_range
            return f"uniform:{p1}-{p2},{o1}-{o2}"
        if self.kind == "fixed":
            s = self.shapes[0]
            return f"fixed:{s.prompt_tokens},{s.max_tokens}"
        return f"file ({len(self.shapes)} shapes)"

    @property
    def mean_prompt_tokens(self) -> float:
        if self.kind == "uniform":
            return sum(self.prompt_range) / 2
        return sum(s.prompt_tokens for s in self.shapes) / len(self.shapes)


def fixed(prompt_tokens: int, max_tokens: int) -> Lengths:
    if prompt_tokens < 1 or max_tokens < 1:
        raise ValueError("prompt and output lengths must be at least 1")
    return Lengths("fixed", (RequestShape(prompt_tokens, max_tokens),))


def _range(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", text)
    if not m:
        raise ValueError(f"want N or N-M, got {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    if lo < 1 or hi < lo:
        raise ValueError(f"want 1 <= N <= M, got {text!r}")
    return lo, hi


def read_file(path: Path) -> Lengths:
    """`prompt output` per line (comma or whitespace separated); skips `#` comments, a header."""
    shapes: list[RequestShape] = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = re.split(r"[,\s]+", text)
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                if number == 1 and not any(p.isdigit() for p in parts):
                    continue  # header
                raise ValueError(f"{path}:{number}: want 'prompt_tokens output_tokens'")
            p, o = int(parts[0]), int(parts[1])
            if p < 1 or o < 1:
                raise ValueError(f"{path}:{number}: lengths must be at least 1")
            shapes.append(RequestShape(p, o))
            if len(shapes) > MAX_FILE_ROWS:
                raise ValueError(f"{path}: more than {MAX_FILE_ROWS} rows")
    if not shapes:
        raise ValueError(f"{path}: no (prompt, output) rows")
    return Lengths("file", tuple(shapes))


def parse_lengths(text: str, default_prompt: int, default_output: int) -> Lengths:
    """`fixed:P,O`, `uniform:P1-P2,O1-O2` or `file:PATH`; empty text: the defaults, fixed."""
    if not text:
        return fixed(default_prompt, default_output)
    kind, _, rest = text.partition(":")
    if kind == "file":
        return read_file(Path(rest))
    if kind not in ("fixed", "uniform"):
        raise ValueError("lengths must be fixed:P,O, uniform:P1-P2,O1-O2 or file:PATH")
    prompt_text, sep, output_text = rest.partition(",")
    if not sep:
        raise ValueError(f"want {kind}:PROMPT,OUTPUT, got {text!r}")
    prompt, output = _range(prompt_text), _range(output_text)
    if kind == "fixed":
        if prompt[0] != prompt[1] or output[0] != output[1]:
            raise ValueError("fixed lengths take single numbers; use uniform: for ranges")
        return fixed(prompt[0], output[0])
    return Lengths("uniform", prompt_range=prompt, output_range=output)


def arrival_offsets(
    qps: float, count: int, rng: random.Random, kind: str = "poisson"
) -> list[float]:
    """Seconds from the step's start at which each of `count` requests is due (first at 0)."""
    if qps <= 0:
        raise ValueError("qps must be positive")
    if kind not in ARRIVALS:
        raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}")
    if kind == "uniform":
        return [i / qps for i in range(count)]  # not summed: no drift from rounding
    out = [0.0]
    for _ in range(count - 1):
        out.append(out[-1] + rng.expovariate(qps))
    return out[:count]


def scheduled_rate(offsets: Sequence[float]) -> float | None:
    """Requests per second the schedule itself asks for: (n - 1) over first-to-last span."""
    if len(offsets) < 2 or offsets[-1] <= offsets[0]:
        return None
    return (len(offsets) - 1) / (offsets[-1] - offsets[0])
