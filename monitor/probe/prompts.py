"""Prompts of an exact token length, generated offline from a seed.

Each prompt starts with a unique nonce so no vendor can serve it from a prompt cache, then an
instruction asking for a long answer, then filler prose assembled from a small built-in vocabulary
(no corpus shipped). The text is cut to exactly the requested count with the configured tokenizer;
with a BPE tokenizer a cut can re-merge differently, so the cut is retried a few tokens shorter.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Final

from monitor.probe.tokens import Tokenizer

INSTRUCTION: Final = (
    "Continue the following notes as one long, detailed essay. Write at least a thousand words, "
    "do not summarise and do not stop early.\n\n"
)

_SUBJECTS: Final = (
    "the old harbour",
    "a quiet village",
    "the northern railway",
    "our research team",
    "the city council",
    "a small bakery",
    "the river valley",
    "the night shift",
    "a travelling musician",
    "the museum archive",
    "the weather station",
    "a local farmer",
    "the mountain pass",
    "the evening market",
    "a retired engineer",
    "the school library",
)
_VERBS: Final = (
    "described",
    "remembered",
    "measured",
    "rebuilt",
    "welcomed",
    "studied",
    "crossed",
    "recorded",
    "painted",
    "repaired",
    "questioned",
    "followed",
    "planned",
    "observed",
)
_OBJECTS: Final = (
    "the long winter",
    "every wooden bridge",
    "the first harvest",
    "a forgotten map",
    "the broken clock",
    "the spring floods",
    "a row of lanterns",
    "the morning ferry",
    "the copper roofs",
    "a pile of letters",
    "the narrow streets",
    "the autumn fair",
)
_TAILS: Final = (
    "before the sun went down",
    "with great patience",
    "for nearly a decade",
    "while the rain kept falling",
    "without telling anyone",
    "as the town slowly grew",
    "in spite of the cold",
    "after a long discussion",
    "under a pale grey sky",
)
_LINKS: Final = ("Later,", "Meanwhile,", "Even so,", "In the end,", "At first,", "Afterwards,")


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    tokens: int
    """Exact length of `text` under `tokenizer`."""
    tokenizer: str
    nonce: str


def _sentence(rng: random.Random) -> str:
    body = (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."
    )
    if rng.random() < 0.3:
        body = f"{rng.choice(_LINKS)} {body}"
    return body[0].upper() + body[1:]


def filler(rng: random.Random, min_chars: int) -> str:
    """Paragraphs of plausible sentences, at least `min_chars` long."""
    parts: list[str] = []
    size = 0
    while size < min_chars:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
        parts.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(parts)


def make_prompt(
    tokens: int,
    tokenizer: Tokenizer,
    *,
    seed: int | None = None,
    nonce: str | None = None,
) -> Prompt:
    """Exactly `tokens` tokens; `seed` fixes the prose, `nonce` (default: random) the head."""
    if tokens < 1:
        raise ValueError("a prompt needs at least one token")
    nonce = nonce if nonce is not None else secrets.token_hex(6)
    rng = random.Random(seed)
    head = f"[{nonce}] {INSTRUCTION}"
    min_chars = max(64, tokens * 6)
    for _ in range(8):
        text = head + filler(rng, min_chars)
        if tokenizer.count(text) >= tokens:
            break
        min_chars *= 2
    for shorter in range(16):
        cut = tokenizer.truncate(text, tokens - shorter)
        if tokenizer.count(cut) == tokens:
            return Prompt(cut, tokens, tokenizer.name, nonce)
        if tokenizer.count(cut) < tokens:
            # a re-merge lost tokens: pad with single-token characters until the count is right
            padded = cut
            while tokenizer.count(padded) < tokens:
                padded += " ."
            if tokenizer.count(padded) == tokens:
                return Prompt(padded, tokens, tokenizer.name, nonce)
    raise ValueError(f"could not build a prompt of exactly {tokens} tokens with {tokenizer.name}")
