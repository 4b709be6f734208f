"""The bytes of each SSE event the simulator sends, per API (the vendors' documented shapes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol


def sse(obj: dict[str, Any], event: str | None = None, end: str = "\n") -> bytes:
    head = f"event: {event}{end}" if event else ""
    return f"{head}data: {json.dumps(obj, separators=(',', ':'))}{end}{end}".encode()


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
    sequence: int = 0
    """Responses API: the next event's `sequence_number`."""
    completion: int = 0
    """Tokens sent, set by `closing()` for a terminator that reports usage."""
    answer: list[str] = field(default_factory=list)
    """Responses API: the text so far, for the `*.done` events."""

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence - 1


class Frames(Protocol):
    def opening(self, info: StreamInfo) -> list[bytes]: ...

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes: ...

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]: ...

    def terminator(self, info: StreamInfo) -> bytes:
        """The protocol's end marker (the `NO_TERMINATOR` fault leaves it out)."""
        ...

    def error(self, info: StreamInfo) -> bytes: ...


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

    def terminator(self, info: StreamInfo) -> bytes:
        return DONE

    def error(self, info: StreamInfo) -> bytes:
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

    def terminator(self, info: StreamInfo) -> bytes:
        return sse({"type": "message_stop"}, "message_stop")

    def error(self, info: StreamInfo) -> bytes:
        return sse(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "error",
        )


class ResponsesFrames:
    """OpenAI Responses: typed events with a `sequence_number`, usage in `response.completed`."""

    def _event(self, info: StreamInfo, kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": info.next_sequence(), **fields}, kind)

    def _response(self, info: StreamInfo, status: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": f"resp_{info.request_id}",
            "object": "response",
            "created_at": info.created,
            "status": status,
            "model": info.model,
            "output": [],
            "usage": None,
            **fields,
        }

    def opening(self, info: StreamInfo) -> list[bytes]:
        item = {"id": f"msg_{info.request_id}", "type": "message", "status": "in_progress"}
        return [
            self._event(info, "response.created", response=self._response(info, "in_progress")),
            self._event(info, "response.in_progress", response=self._response(info, "in_progress")),
            self._event(
                info,
                "response.output_item.added",
                output_index=0,
                item={**item, "role": "assistant", "content": []},
            ),
            self._event(
                info,
                "response.content_part.added",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
        ]

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        info.answer.append(text)
        return self._event(
            info,
            "response.output_text.delta",
            item_id=f"msg_{info.request_id}",
            output_index=0,
            content_index=0,
            delta=text,
        )

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        info.completion = completion
        return [
            self._event(
                info,
                "response.output_text.done",
                item_id=f"msg_{info.request_id}",
                output_index=0,
                content_index=0,
                text="".join(info.answer),
            )
        ]

    def terminator(self, info: StreamInfo) -> bytes:
        usage = {
            "input_tokens": info.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": info.completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": info.prompt_tokens + info.completion,
        }
        return self._event(
            info,
            "response.incomplete",
            response=self._response(
                info,
                "incomplete",
                incomplete_details={"reason": "max_output_tokens"},
                usage=usage,
            ),
        )

    def error(self, info: StreamInfo) -> bytes:
        return self._event(
            info,
            "error",
            code="server_error",
            message="The server had an error while processing your request.",
            param=None,
        )


class GeminiFrames:
    """Gemini `streamGenerateContent?alt=sse`: whole responses per event, `\r\n` line ends,
    cumulative `usageMetadata` on every event, no terminator: the event with `finishReason` ends
    the stream (it is this simulator's terminator, so `NO_TERMINATOR` leaves it out)."""

    def _response(
        self, info: StreamInfo, text: str, so_far: int, finish: str | None = None
    ) -> bytes:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "index": 0,
        }
        if finish is not None:
            candidate["finishReason"] = finish
        obj = {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": info.prompt_tokens,
                "candidatesTokenCount": so_far,
                "totalTokenCount": info.prompt_tokens + so_far,
            },
            "modelVersion": info.model,
            "responseId": info.request_id,
        }
        return sse(obj, end="\r\n")

    def opening(self, info: StreamInfo) -> list[bytes]:
        return []

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        return self._response(info, text, so_far)

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        info.completion = completion
        return []

    def terminator(self, info: StreamInfo) -> bytes:
        return self._response(info, "", info.completion, "MAX_TOKENS")

    def error(self, info: StreamInfo) -> bytes:
        err = {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
        return sse({"error": err}, end="\r\n")


FRAMES: dict[str, Frames] = {
    "openai-chat": ChatFrames(),
    "openai-completions": CompletionFrames(),
    "anthropic": AnthropicFrames(),
    "openai-responses": ResponsesFrames(),
    "gemini": GeminiFrames(),
}
