"""The bytes of each SSE event the simulator sends, per API (the vendors' documented shapes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol


def sse(obj: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class StreamInfo:
    request_id: str
    model: str
    prompt_tokens: int
    include_usage: bool
    continuous_usage: bool
    token_ids: bool
    created: int = 1_700_000_000


class Frames(Protocol):
    def opening(self, info: StreamInfo) -> list[bytes]: ...

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes: ...

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]: ...

    def terminator(self) -> bytes: ...

    def error(self) -> bytes: ...


def _usage(info: StreamInfo, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": info.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": info.prompt_tokens + completion,
    }


class ChatFrames:
    def _chunk(
        self, info: StreamInfo, choices: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": info.request_id,
            "object": "chat.completion.chunk",
            "created": info.created,
            "model": info.model,
            "choices": choices,
        }
        obj.update(extra)
        return obj

    def opening(self, info: StreamInfo) -> list[bytes]:
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        extra = {"usage": _usage(info, 0)} if info.continuous_usage else {}
        return [sse(self._chunk(info, [choice], **extra))]

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        delta: dict[str, Any] = {"content": text}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        if info.token_ids:
            choice["token_ids"] = list(range(so_far - tokens, so_far))
        extra = {"usage": _usage(info, so_far)} if info.continuous_usage else {}
        return sse(self._chunk(info, [choice], **extra))

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        finish: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": "length"}
        extra: dict[str, Any] = {}
        if timings is not None:
            extra["x_groq"] = {
                "id": f"req_{info.request_id}",
                "usage": {**_usage(info, completion), **timings},
            }
        out = [sse(self._chunk(info, [finish], **extra))]
        if info.include_usage:
            out.append(sse(self._chunk(info, [], usage=_usage(info, completion))))
        return out

    def terminator(self) -> bytes:
        return DONE

    def error(self) -> bytes:
        return sse(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "code": 500,
                }
            }
        )


class CompletionFrames(ChatFrames):
    def _text_chunk(
        self, info: StreamInfo, text: str, finish: str | None, **extra: Any
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": info.request_id,
            "object": "text_completion",
            "created": info.created,
            "model": info.model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
        }
        obj.update(extra)
        return obj

    def opening(self, info: StreamInfo) -> list[bytes]:
        return []

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        extra = {"usage": _usage(info, so_far)} if info.continuous_usage else {}
        obj = self._text_chunk(info, text, None, **extra)
        if info.token_ids:
            obj["choices"][0]["token_ids"] = list(range(so_far - tokens, so_far))
        return sse(obj)

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        out = [sse(self._text_chunk(info, "", "length"))]
        if info.include_usage:
            obj = self._text_chunk(info, "", None, usage=_usage(info, completion))
            obj["choices"] = []
            out.append(sse(obj))
        return out


class AnthropicFrames:
    def opening(self, info: StreamInfo) -> list[bytes]:
        message: dict[str, Any] = {
            "id": info.request_id,
            "type": "message",
            "role": "assistant",
            "model": info.model,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": info.prompt_tokens, "output_tokens": 1},
        }
        return [
            sse({"type": "message_start", "message": message}, "message_start"),
            sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            ),
            sse({"type": "ping"}, "ping"),
        ]

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        return sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
            "content_block_delta",
        )

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        return [
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                    "usage": {"output_tokens": completion},
                },
                "message_delta",
            ),
        ]

    def terminator(self) -> bytes:
        return sse({"type": "message_stop"}, "message_stop")

    def error(self) -> bytes:
        return sse(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "error",
        )


FRAMES: dict[str, Frames] = {
    "openai-chat": ChatFrames(),
    "openai-completions": CompletionFrames(),
    "anthropic": AnthropicFrames(),
}
