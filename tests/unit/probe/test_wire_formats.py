"""Each recorded stream in tests/data/wire/<api>/ through framing, the wire module and assembly.

Every file is fed twice: as one read and in 7-byte reads, which must give the same result (only the
read timestamps differ). Expected values are read off the files themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.config import Target
from monitor.probe.assemble import StreamFacts, assemble
from monitor.probe.prompts import Prompt
from monitor.probe.tokens import BuiltinTokenizer
from monitor.probe.wire import WIRES
from monitor.providers import APIS
from monitor.trace import ChunkKind, TokenCountSource

DATA = Path(__file__).resolve().parents[2] / "data" / "wire"


async def run(api: str, name: str, piece: int | None) -> StreamFacts:
    raw = (DATA / api / name).read_bytes()
    if piece is None:
        reads = [(1000, raw)]
    else:
        reads = [(1000 + i, raw[i : i + piece]) for i in range(0, len(raw), piece)]
    return await assemble(reads, 0, WIRES[api], BuiltinTokenizer())


CASES: dict[tuple[str, str], dict[str, Any]] = {
    # " Hello"/" there"/" my friend": builtin counts 2 ("Hell","o"), 1, 2 = 5; usage says 5
    ("openai-chat", "basic.sse"): {
        "texts": ["Hello", " there", " my friend"],
        "tokens": [2, 1, 2],
        "source": TokenCountSource.TOKENIZER,
        "finish": "stop",
        "terminal": True,
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "cached_tokens": None},
    },
    ("openai-chat", "crlf_comments_multiline.sse"): {
        "texts": ["Hi"],
        "tokens": [1],
        "source": TokenCountSource.TOKENIZER,
        "finish": "length",
        "terminal": True,
        "keepalives": 1,
    },
    ("openai-chat", "vllm_error.sse"): {
        "texts": ["Par", "tial"],
        "tokens": [1, 1],
        "error": "InternalServerError: Engine died",
        "terminal": True,
    },
    ("openai-chat", "groq_x_groq.sse"): {
        "texts": ["Fast", " tokens"],
        "finish": "stop",
        "terminal": True,
        "request_id": "req_01",
        "timings": {
            "queue_time": 0.061,
            "prompt_time": 0.0002,
            "completion_time": 0.01,
            "total_time": 0.0102,
        },
        "usage": {"prompt_tokens": 18, "completion_tokens": 2, "cached_tokens": None},
    },
    # one token_id per chunk; the last chunk has empty content so it is no chunk
    ("openai-chat", "together_token_id.sse"): {
        "texts": ["The", " cat"],
        "tokens": [1, 1],
        "source": TokenCountSource.TOKEN_ID,
        "finish": "eos",
        "terminal": True,
    },
    # cumulative 0 → 1 → 4 → 5: chunks carry 1, 3, 1
    ("openai-chat", "vllm_continuous_usage.sse"): {
        "texts": ["One", " two three four", " five"],
        "tokens": [1, 3, 1],
        "source": TokenCountSource.USAGE_CONTINUOUS,
        "finish": "length",
        "terminal": True,
    },
    ("openai-chat", "reasoning.sse"): {
        "texts": ["Let me think", " more", "Answer"],
        "kinds": [ChunkKind.REASONING, ChunkKind.REASONING, ChunkKind.CONTENT],
        "finish": "stop",
        "terminal": True,
    },
    # builtin counts "This"=1, " is a"=2, " test"=1 → 4, usage 4
    ("openai-completions", "basic.sse"): {
        "texts": ["This", " is a", " test"],
        "tokens": [1, 2, 1],
        "finish": "length",
        "terminal": True,
        "usage": {"prompt_tokens": 4, "completion_tokens": 4, "cached_tokens": None},
    },
    ("openai-completions", "no_terminator.sse"): {"texts": ["No", " end"], "terminal": False},
    # "Hello"=2 and "!"=1 by the tokenizer (3), reconciled to usage 15:
    # base 1 each, 13 extra split 13·[2,1]/3 = [8.67, 4.33] → [8, 4] + the 1 left to 8.67 → [10, 5]
    ("anthropic", "basic.sse"): {
        "texts": ["Hello", "!"],
        "tokens": [10, 5],
        "source": TokenCountSource.TOKENIZER,
        "finish": "end_turn",
        "terminal": True,
        "usage": {"prompt_tokens": 25, "completion_tokens": 15, "cached_tokens": None},
        "request_id": "msg_1",
    },
    ("anthropic", "overloaded_error.sse"): {
        "texts": ["Par"],
        "error": "overloaded_error: Overloaded",
        "terminal": False,
    },
    ("anthropic", "thinking_unknown_event.sse"): {
        "texts": ["Hmm", "Yes"],
        "kinds": [ChunkKind.REASONING, ChunkKind.CONTENT],
        "finish": "end_turn",
        "terminal": True,
    },
}


def test_every_recorded_stream_has_expectations() -> None:
    files = {(p.parent.name, p.name) for p in DATA.glob("*/*.sse")}
    assert files == set(CASES)
    assert {api for api, _ in files} == set(APIS)


@pytest.mark.parametrize(("api", "name"), sorted(CASES))
@pytest.mark.parametrize("piece", [None, 7])
async def test_recorded_stream(api: str, name: str, piece: int | None) -> None:
    expected = CASES[(api, name)]
    facts = await run(api, name, piece)
    assert [c.text for c in facts.chunks] == expected["texts"]
    assert facts.malformed == 0
    assert facts.terminal is expected["terminal"]
    assert facts.error == expected.get("error")
    if "tokens" in expected:
        assert [c.tokens for c in facts.chunks] == expected["tokens"]
    if "source" in expected:
        assert facts.source is expected["source"]
    if "finish" in expected:
        assert facts.finish_reason == expected["finish"]
    if "usage" in expected:
        assert facts.usage == expected["usage"]
    if "kinds" in expected:
        assert [c.kind for c in facts.chunks] == expected["kinds"]
    if "request_id" in expected:
        assert facts.request_id == expected["request_id"]
    if "timings" in expected:
        assert facts.server_timings == expected["timings"]
    if "keepalives" in expected:
        assert facts.keepalives == expected["keepalives"]


async def test_events_of_one_read_get_that_reads_timestamp() -> None:
    raw = (DATA / "openai-chat" / "basic.sse").read_bytes()
    cut = raw.index(b"data:", raw.index(b"Hello"))  # " there" starts a second read
    facts = await assemble([(500, raw[:cut]), (900, raw[cut:])], 100, WIRES["openai-chat"], None)
    assert [c.t_ns for c in facts.chunks] == [400, 800, 800]
    assert facts.source is TokenCountSource.CHUNK
    assert [c.tokens for c in facts.chunks] == [1, 1, 1]


async def test_non_json_payload_is_counted_not_raised() -> None:
    reads = [(1, b"data: {not json\n\ndata: [1, 2]\n\ndata: [DONE]\n\n")]
    facts = await assemble(reads, 0, WIRES["openai-chat"], None)
    assert facts.malformed == 2
    assert facts.terminal


def _target(provider: str, api: str | None = None) -> Target:
    return Target(provider=provider, api=api, base_url="http://127.0.0.1:1/v1", model="m")


PROMPT = Prompt("Say hi", 2, "builtin", "n")


def test_chat_request_asks_for_usage_and_vllm_continuous_usage() -> None:
    req = WIRES["openai-chat"].build_request(_target("vllm"), PROMPT, 64)
    assert req.path == "/chat/completions"
    assert req.body["stream"] is True
    assert req.body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert req.body["min_tokens"] == 64 and req.body["ignore_eos"] is True
    assert req.body["messages"] == [{"role": "user", "content": "Say hi"}]
    plain = WIRES["openai-chat"].build_request(_target("openai-compatible"), PROMPT, 64)
    assert plain.body["stream_options"] == {"include_usage": True}
    assert "min_tokens" not in plain.body


def test_target_params_override_the_body() -> None:
    target = Target(
        provider="openai-compatible",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        params={"temperature": 0.7, "top_p": 0.5, "stream_options": None},
    )
    body = WIRES["openai-completions"].build_request(target, PROMPT, 8).body
    assert (body["temperature"], body["top_p"], body["prompt"]) == (0.7, 0.5, "Say hi")
    assert "stream_options" not in body  # null removes a default field


def test_anthropic_request_and_auth_headers() -> None:
    wire = WIRES["anthropic"]
    req = wire.build_request(_target("anthropic"), PROMPT, 16)
    assert req.path == "/messages"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.body["max_tokens"] == 16
    assert wire.auth_headers("k") == {"x-api-key": "k"}
    assert WIRES["openai-chat"].auth_headers("k") == {"Authorization": "Bearer k"}
