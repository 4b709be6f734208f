"""The builtin tokenizer and exact-length prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.probe.prompts import INSTRUCTION, make_prompt
from monitor.probe.tokens import BuiltinTokenizer, TokenizerUnavailableError, get_tokenizer

TOK = BuiltinTokenizer()


def test_builtin_pieces() -> None:
    # "Hell" "o" "," " worl" "d" "!" "  The" " ü" " 1234" "5" " " = 11
    text = "Hello, world!  The ü 12345 "
    assert TOK.pieces(text) == [
        "Hell",
        "o",
        ",",
        " worl",
        "d",
        "!",
        "  The",
        " ü",
        " 1234",
        "5",
        " ",
    ]
    assert TOK.count(text) == 11
    assert "".join(TOK.pieces(text)) == text


def test_truncate_is_stable_under_recount() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    for n in range(TOK.count(text) + 1):
        assert TOK.count(TOK.truncate(text, n)) == n


@pytest.mark.parametrize("tokens", [1, 2, 16, 255, 256, 1024, 4096, 16384])
def test_prompt_has_exactly_the_requested_tokens(tokens: int) -> None:
    prompt = make_prompt(tokens, TOK, seed=7)
    assert TOK.count(prompt.text) == tokens
    assert prompt.tokens == tokens
    assert prompt.tokenizer == "builtin"


def test_prompt_starts_with_nonce_and_instruction() -> None:
    prompt = make_prompt(200, TOK, seed=1, nonce="abc123")
    assert prompt.text.startswith(f"[abc123] {INSTRUCTION}")


def test_same_seed_same_prose_and_fresh_nonce_per_probe() -> None:
    a = make_prompt(300, TOK, seed=3)
    b = make_prompt(300, TOK, seed=3)
    assert a.nonce != b.nonce
    assert a.text.split("]", 1)[1] == b.text.split("]", 1)[1]
    assert make_prompt(300, TOK, seed=4).text.split("]", 1)[1] != a.text.split("]", 1)[1]


def test_tiktoken_without_cached_file_is_refused_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(TokenizerUnavailableError, match="no cached BPE file"):
        get_tokenizer("tiktoken:cl100k_base", {"TIKTOKEN_CACHE_DIR": str(tmp_path)})
    with pytest.raises(TokenizerUnavailableError, match="unknown tokenizer"):
        get_tokenizer("sentencepiece")
    assert get_tokenizer().name == "builtin"
