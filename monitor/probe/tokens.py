"""Token counting behind one small protocol, usable with no network.

tiktoken fetches its BPE files from the internet the first time an encoding is used, which a
monitoring host (and the test machines) may not reach. So the default is a deterministic builtin
tokenizer: a token is optional leading whitespace plus up to four letters or digits, or optional
leading whitespace plus one other character, or trailing whitespace. It is stable under truncation
at a token boundary (the prefix of a text re-tokenizes into the same first tokens), which makes
exact prompt lengths trivial, and the simulator counts prompts with it, so
`usage.prompt_tokens` agrees.

A tiktoken encoding is used only when asked for by name and its BPE file is already cached locally.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Final, Protocol

DEFAULT_TOKENIZER: Final = "builtin"


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int:
        """Tokens in `text`."""
        ...

    def truncate(self, text: str, tokens: int) -> str:
        """The longest prefix of `text` with at most `tokens` tokens."""
        ...


_PIECE: Final = re.compile(r"\s*[^\W_]{1,4}|\s*[^\s]|\s+", re.UNICODE)


class BuiltinTokenizer:
    """Word-piece-like splitting by a regex; roughly 1.3 tokens per English word, like a BPE."""

    name = DEFAULT_TOKENIZER

    def pieces(self, text: str) -> list[str]:
        return _PIECE.findall(text)

    def count(self, text: str) -> int:
        return len(_PIECE.findall(text))

    def truncate(self, text: str, tokens: int) -> str:
        if tokens <= 0:
            return ""
        end = 0
        for i, match in enumerate(_PIECE.finditer(text)):
            if i == tokens:
                break
            end = match.end()
        return text[:end]


class TiktokenTokenizer:
    """A tiktoken encoding, only constructed when its BPE file is cached (no download)."""

    def __init__(self, encoding: Any, name: str) -> None:
        self._enc = encoding
        self.name = name

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def truncate(self, text: str, tokens: int) -> str:
        ids = self._enc.encode(text, disallowed_special=())
        return str(self._enc.decode(ids[: max(tokens, 0)]))


class TokenizerUnavailableError(LookupError):
    """The named tokenizer can't be loaded without the network."""


def _tiktoken_cache_dir(environ: dict[str, str]) -> Path:
    for key in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if environ.get(key):
            return Path(environ[key])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def get_tokenizer(
    name: str = DEFAULT_TOKENIZER, environ: dict[str, str] | None = None
) -> Tokenizer:
    """`builtin`, or `tiktoken:<encoding>` when that encoding's file is already cached locally."""
    if name == DEFAULT_TOKENIZER:
        return BuiltinTokenizer()
    if not name.startswith("tiktoken:"):
        raise TokenizerUnavailableError(
            f"unknown tokenizer {name!r}; use builtin or tiktoken:<encoding>"
        )
    encoding_name = name.partition(":")[2]
    env = dict(os.environ) if environ is None else environ
    cache = _tiktoken_cache_dir(env)
    if not cache.is_dir() or not any(cache.iterdir()):
        raise TokenizerUnavailableError(
            f"{name}: no cached BPE file in {cache} (no network download)"
        )
    try:
        import tiktoken  # noqa: PLC0415  (optional, slow to import)

        encoding = tiktoken.get_encoding(encoding_name)
    except Exception as e:  # tiktoken raises many kinds; any of them means "not usable here"
        raise TokenizerUnavailableError(f"{name}: {type(e).__name__}") from None
    return TiktokenTokenizer(encoding, name)
