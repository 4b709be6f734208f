"""Each recorded stream in tests/data/wire/<api>/ through framing, the wire module and assembly.

Every file is fed twice: as one read and in 7-byte reads, which must give the same result (only the
read timestamps differ). Expected values are read off the files themselves (each cites its source
in its leading comment lines, which the parser counts as keep-alives).

Three cases failed before issue 15's fixes (checked against the previous tree):
openai_refusal.sse gave no chunk at all, together_token_id.sse two tokens of three, and
xai_reasoning_apart.sse kept the tokenizer's 2 tokens for "Hello" where the stream says 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.config import Target
from monitor.probe.assemble import StreamFacts, assemble
from monitor.probe.openai_common import usage_of
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
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
        "source": TokenCountSource.USAGE_TOTAL,
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
    # one token_id per chunk; the last one (end of sequence) has no text and is still a token:
    # 3 chunks of 1 = usage's 3 (before the fix: 2)
    ("openai-chat", "together_token_id.sse"): {
        "texts": ["The", " cat", ""],
        "tokens": [1, 1, 1],
        "kinds": [ChunkKind.CONTENT] * 3,
        "source": TokenCountSource.TOKEN_ID,
        "finish": "eos",
        "terminal": True,
    },
    # Together's documented older shape: a top-level `token` object per event; the example stops
    # after three events, so no terminator
    ("openai-chat", "together_docs_token.sse"): {
        "texts": [" A", ":", " Sure"],
        "tokens": [1, 1, 1],
        "source": TokenCountSource.TOKEN_ID,
        "terminal": False,
    },
    # OpenAI refusal: content null, the text in delta.refusal. Builtin counts of the 10 deltas
    # "I'm"=3 " sorry"=2 ","=1 " I"=1 " can't"=3 " assist"=2 " with"=1 " that"=1 " request"=2
    # "."=1 (17), reconciled to usage 11: base 1 each, 1 extra by share 1·c/17, largest 3/17 at
    # the first delta (tied with " can't", the earlier wins) → [2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    ("openai-chat", "openai_refusal.sse"): {
        "text": "I'm sorry, I can't assist with that request.",
        "tokens": [2, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        "kinds": [ChunkKind.CONTENT] * 10,
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "stop",
        "terminal": True,
        "usage": {"prompt_tokens": 79, "completion_tokens": 11, "cached_tokens": None},
    },
    # xAI: completion 1 and reasoning 290 apart (total 303 = 12 + 1 + 290), so usage says
    # completion 291 = 1 + 290. The answer "Hello" gets 1 (before the fix: the tokenizer's 2).
    # The reasoning deltas (trimmed in the capture) share 290: builtin counts "First"=2, then 1
    # each (6); base 1 each, 285 extra by 285·c/6 = [95, 47.5, 47.5, 47.5, 47.5] → floors 283,
    # the 2 left to the first two .5 remainders → [96, 49, 49, 48, 48]
    ("openai-chat", "xai_reasoning_apart.sse"): {
        "texts": ["First", ",", " the", " user", " said", "Hello"],
        "tokens": [96, 49, 49, 48, 48, 1],
        "kinds": [ChunkKind.REASONING] * 5 + [ChunkKind.CONTENT],
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "stop",
        "terminal": True,
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 291,
            "cached_tokens": 11,
            "reasoning_tokens": 290,
        },
    },
    # DeepSeek: completion 219 includes reasoning 205. 205 reasoning deltas get 1 each; the 13
    # answer deltas share 219 - 205 = 14 (before: one pool of 219, 206 to reasoning)
    ("openai-chat", "deepseek_reasoning.sse"): {
        "counts": {ChunkKind.REASONING: (205, 205), ChunkKind.CONTENT: (13, 14)},
        "all_reasoning_one": True,
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "stop",
        "terminal": True,
    },
    # Mistral: usage on the finish chunk. Builtin counts "Hello"=2 ", "=2 "world!"=3 " This"=1
    # " is a test"=3 " response."=3 (14), reconciled to 8: base 1 each, 2 extra by 2·c/14, the
    # largest remainders (3/7) at "world!" and " is a test" → [1, 1, 2, 1, 2, 1]
    ("openai-chat", "mistral_text.sse"): {
        "texts": ["Hello", ", ", "world!", " This", " is a test", " response."],
        "tokens": [1, 1, 2, 1, 2, 1],
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "stop",
        "terminal": True,
        "usage": {"prompt_tokens": 13, "completion_tokens": 8, "cached_tokens": None},
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
        "source": TokenCountSource.USAGE_TOTAL,
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
    # thinking is a summary (Claude 4) and output_tokens bills all of it: the answer's share is
    # unknown, so the tokenizer's counts stay
    ("anthropic", "thinking_unknown_event.sse"): {
        "texts": ["Hmm", "Yes"],
        "kinds": [ChunkKind.REASONING, ChunkKind.CONTENT],
        "source": TokenCountSource.TOKENIZER,
        "finish": "end_turn",
        "terminal": True,
    },
    # Responses API, real xAI capture: 66 summary deltas, then 600 text deltas; output 923
    # includes reasoning 323, so the answer is 600 tokens: 1 per delta. Summary deltas keep the
    # tokenizer's counts (the 323 hidden reasoning tokens are not what streamed)
    ("openai-responses", "xai_reasoning_summary.sse"): {
        "counts": {ChunkKind.REASONING: (66, None), ChunkKind.CONTENT: (600, 600)},
        "summaries_keep_tokenizer": True,
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "completed",
        "terminal": True,
        "model": "grok-code-fast-1",
        "usage": {
            "prompt_tokens": 216,
            "completion_tokens": 923,
            "cached_tokens": 192,
            "reasoning_tokens": 323,
        },
    },
    # an `error` event after HTTP 200, then `response.failed` (the terminal event)
    ("openai-responses", "error_mid_stream.sse"): {
        "texts": [],
        "error_prefix": "insufficient_quota: You exceeded your current quota",
        "terminal": True,
        "request_id": "resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424",
    },
    # Gemini without thoughts: candidates 29 and thoughts 256 apart → completion 285; the answer
    # events carry cumulative candidatesTokenCount 10 → 29, so they hold 10 and 19 tokens
    ("gemini", "reasoning_hidden.sse"): {
        "tokens": [10, 19],
        "text": 'There are **3** "r"s in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.',
        "source": TokenCountSource.USAGE_CONTINUOUS,
        "finish": "STOP",
        "terminal": True,
        "request_id": "dX6LadKVC7SZ28oPr9yJoQs",
        "usage": {
            "prompt_tokens": 9,
            "cached_tokens": None,
            "completion_tokens": 285,
            "reasoning_tokens": 256,
        },
    },
    # thought summaries first (tokenizer counts), then the answer sharing candidates' 10
    ("gemini", "thought_parts.sse"): {
        "texts": [
            "**Counting letters**\n\nI spell the word out",
            " and count each r.",
            "There are 3",
            " r's in strawberry.",
        ],
        "kinds": [ChunkKind.REASONING] * 2 + [ChunkKind.CONTENT] * 2,
        "counts": {ChunkKind.CONTENT: (2, 10)},
        "summaries_keep_tokenizer": True,
        "source": TokenCountSource.USAGE_TOTAL,
        "finish": "STOP",
        "terminal": True,
    },
    ("gemini", "overloaded_error.sse"): {
        "texts": ["In the quaint, sunlit cottage"],
        "tokens": [7],
        "source": TokenCountSource.USAGE_CONTINUOUS,
        "error": "UNAVAILABLE: The model is overloaded. Please try again later.",
        "terminal": False,
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
    if "texts" in expected:
        assert [c.text for c in facts.chunks] == expected["texts"]
    if "text" in expected:
        answer = "".join(c.text or "" for c in facts.chunks if c.kind is ChunkKind.CONTENT)
        assert answer == expected["text"]
    assert facts.malformed == 0
    assert facts.terminal is expected["terminal"]
    if "error_prefix" in expected:
        assert facts.error is not None and facts.error.startswith(expected["error_prefix"])
    else:
        assert facts.error == expected.get("error")
    for kind, (chunks, tokens) in expected.get("counts", {}).items():
        mine = [c for c in facts.chunks if c.kind is kind]
        assert len(mine) == chunks
        if tokens is not None:
            assert sum(c.tokens for c in mine) == tokens
    if expected.get("all_reasoning_one"):
        assert {c.tokens for c in facts.chunks if c.kind is ChunkKind.REASONING} == {1}
    if expected.get("summaries_keep_tokenizer"):
        tokenizer = BuiltinTokenizer()
        summaries = [c for c in facts.chunks if c.kind is ChunkKind.REASONING]
        assert summaries
        assert all(c.tokens == max(tokenizer.count(c.text or ""), 1) for c in summaries)
    if "model" in expected:
        assert facts.model == expected["model"]
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


async def _inline(api: str, sse: str) -> StreamFacts:
    return await assemble([(10, sse.encode())], 0, WIRES[api], BuiltinTokenizer())


async def test_responses_refusal_is_answer_and_incomplete_is_a_finish() -> None:
    sse = (
        'event: response.refusal.delta\ndata: {"type":"response.refusal.delta","delta":"No."}\n\n'
        "event: response.incomplete\n"
        'data: {"type":"response.incomplete","response":{"id":"r","status":"incomplete",'
        '"incomplete_details":{"reason":"max_output_tokens"},'
        '"usage":{"input_tokens":5,"output_tokens":2}}}\n\n'
    )
    facts = await _inline("openai-responses", sse)
    assert [(c.kind, c.text, c.tokens) for c in facts.chunks] == [(ChunkKind.CONTENT, "No.", 2)]
    assert facts.terminal and facts.error is None
    assert facts.finish_reason == "max_output_tokens"


async def test_gemini_blocked_prompt_is_an_error() -> None:
    sse = (
        'data: {"promptFeedback":{"blockReason":"SAFETY"},'
        '"usageMetadata":{"promptTokenCount":4}}\r\n\r\n'
    )
    facts = await _inline("gemini", sse)
    assert facts.chunks == [] and facts.error == "prompt blocked: SAFETY"


async def test_usage_that_cannot_be_split_leaves_the_tokenizer_and_says_so() -> None:
    # three answer chunks but usage claims 2 tokens: fewer tokens than chunks can't be split
    chunk = '{"choices":[{"index":0,"delta":{"content":"%s"}}]}'
    sse = "".join(f"data: {chunk % t}\n\n" for t in ("one", " two", " three"))
    sse += (
        'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n'
    )
    facts = await _inline("openai-chat", sse)
    assert facts.source is TokenCountSource.TOKENIZER
    assert [c.tokens for c in facts.chunks] == [1, 1, 2]  # "one", " two", " thr"+"ee"


@pytest.mark.parametrize(
    ("raw", "completion"),
    [
        # OpenAI: reasoning inside completion (total = prompt + completion)
        ({"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60}, 50),
        # xAI: reasoning apart (total = prompt + completion + reasoning = 10 + 20 + 30)
        ({"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 60}, 50),
        # no total: the vendor's number as is
        ({"prompt_tokens": 10, "completion_tokens": 20}, 20),
    ],
)
def test_reasoning_reported_apart_is_added_in(raw: dict[str, int], completion: int) -> None:
    usage = usage_of({**raw, "completion_tokens_details": {"reasoning_tokens": 30}})
    assert usage is not None
    assert usage["completion_tokens"] == completion and usage["reasoning_tokens"] == 30


def test_responses_request() -> None:
    wire = WIRES["openai-responses"]
    req = wire.build_request(_target("openai", "openai-responses"), PROMPT, 32)
    assert req.path == "/responses"
    assert req.body == {
        "model": "m",
        "input": "Say hi",
        "stream": True,
        "max_output_tokens": 32,
        "store": False,
    }
    assert wire.auth_headers("k") == {"Authorization": "Bearer k"}


def test_gemini_request_keeps_the_key_out_of_the_url() -> None:
    wire = WIRES["gemini"]
    target = Target(
        provider="gemini",
        model="models/gemini-2.5-flash",
        params={"generationConfig": {"thinkingConfig": {"includeThoughts": True}}},
    )
    req = wire.build_request(target, PROMPT, 64)
    assert target.resolved_base_url == "https://generativelanguage.googleapis.com/v1beta"
    assert req.path == "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert "key" not in req.path
    assert req.body["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]
    assert req.body["generationConfig"] == {
        "maxOutputTokens": 64,
        "temperature": 0,
        "thinkingConfig": {"includeThoughts": True},
    }
    assert wire.auth_headers("k") == {"x-goog-api-key": "k"}


def test_mistral_gets_no_stream_options() -> None:
    body = WIRES["openai-chat"].build_request(_target("mistral"), PROMPT, 8).body
    assert "stream_options" not in body


@pytest.mark.parametrize(
    ("provider", "base_url", "key_env"),
    [
        ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        ("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        ("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
        ("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
        ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        ("gemini", "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY"),
    ],
)
def test_vendor_presets(provider: str, base_url: str, key_env: str) -> None:
    target = Target(provider=provider, model="m")
    assert (target.resolved_base_url, target.resolved_key_env) == (base_url, key_env)


ODD_PAYLOADS = [
    "null",
    "[]",
    '"text"',
    "{}",
    '{"type": 5, "delta": {"x": 1}}',
    '{"type": "response.output_text.delta", "delta": 7}',
    '{"type": "response.completed", "response": []}',
    '{"type": "response.completed", "response": {"usage": {"output_tokens": "9"}}}',
    '{"type": "error", "error": "boom"}',
    '{"candidates": {"content": 1}}',
    '{"candidates": [{"content": {"parts": [{"text": 5}, "x", {"thought": true}]}}]}',
    '{"candidates": [7], "usageMetadata": {"candidatesTokenCount": true}}',
    '{"error": ["x"], "promptFeedback": {"blockReason": 3}}',
    '{"choices": [{"delta": {"refusal": 5, "token_id": "x"}}], "token": {"id": "1"}}',
    '{"usage": {"completion_tokens": 1, "completion_tokens_details": {"reasoning_tokens": "x"}}}',
]


@pytest.mark.parametrize("api", sorted(WIRES))
@pytest.mark.parametrize("payload", ODD_PAYLOADS)
def test_odd_payloads_never_raise(api: str, payload: str) -> None:
    event = WIRES[api].classify(SseEvent(payload, "response.completed"))
    assert isinstance(event.text, str) and isinstance(event.reasoning, str)


async def test_textless_event_that_grows_continuous_usage_is_a_chunk() -> None:
    # cumulative 0 → 2 → 3 (an event with no text, e.g. the end-of-sequence token) → 3 (usage)
    usage = '"usage":{"prompt_tokens":4,"completion_tokens":%d}'
    events = [
        '{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],' + usage % 0,
        '{"choices":[{"index":0,"delta":{"content":"Hi there"}}],' + usage % 2,
        '{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],' + usage % 3,
        '{"choices":[],' + usage % 3,
    ]
    sse = "".join(f"data: {e}}}\n\n" for e in events) + "data: [DONE]\n\n"
    facts = await _inline("openai-chat", sse)
    assert facts.source is TokenCountSource.USAGE_CONTINUOUS
    assert [(c.text, c.tokens) for c in facts.chunks] == [("Hi there", 2), ("", 1)]


async def test_together_completions_token_ids_count() -> None:
    chunk = '{"choices":[{"index":0,"text":"%s","delta":{"token_id":%d,"content":"%s"}}]}'
    sse = f"data: {chunk % ('Hi', 1, 'Hi')}\n\ndata: {chunk % ('', 2, '')}\n\ndata: [DONE]\n\n"
    facts = await _inline("openai-completions", sse)
    assert facts.source is TokenCountSource.TOKEN_ID
    assert [(c.text, c.tokens) for c in facts.chunks] == [("Hi", 1), ("", 1)]
