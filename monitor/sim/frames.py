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
    reasoning_chunks: int = 0
    """How many chunks open the response as reasoning (`Profile.reasoning_chunks`)."""
    reasoning_sent: int = 0
    """Reasoning tokens sent so far (counted by the server)."""
    answer_started: bool = False
    """The first answer chunk went out (formats that open a new block for it)."""

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence - 1


class Frames(Protocol):
    def opening(self, info: StreamInfo) -> list[bytes]: ...

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes: ...

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        """A reasoning chunk, or None when the API has no reasoning channel (sent as text)."""
        ...

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]: ...

    def terminator(self, info: StreamInfo) -> bytes:
        """The protocol's end marker (the `NO_TERMINATOR` fault leaves it out)."""
        ...

    def error(self, info: StreamInfo) -> bytes: ...


def _usage(info: StreamInfo, completion: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": info.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": info.prompt_tokens + completion,
    }
    if info.reasoning_sent:  # OpenAI's convention: inside completion_tokens
        out["completion_tokens_details"] = {"reasoning_tokens": info.reasoning_sent}
    return out


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

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        return self._delta(info, {"reasoning": text}, tokens, so_far)

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        return self._delta(info, {"content": text}, tokens, so_far)

    def _delta(self, info: StreamInfo, delta: dict[str, Any], tokens: int, so_far: int) -> bytes:
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

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        return None

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
            self._start(0, "thinking" if info.reasoning_chunks else "text"),
            sse({"type": "ping"}, "ping"),
        ]

    @staticmethod
    def _start(index: int, kind: str) -> bytes:
        block = {"type": kind, kind: ""}
        return sse(
            {"type": "content_block_start", "index": index, "content_block": block},
            "content_block_start",
        )

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        return sse(
            {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
        )

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        return self._delta(0, {"type": "thinking_delta", "thinking": text})

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        index = 1 if info.reasoning_chunks else 0
        head = b""
        if info.reasoning_chunks and not info.answer_started:  # the thinking block ends here
            head = sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            head += self._start(1, "text")
        info.answer_started = True
        return head + self._delta(index, {"type": "text_delta", "text": text})

    def closing(
        self, info: StreamInfo, completion: int, timings: dict[str, float] | None
    ) -> list[bytes]:
        index = 1 if info.answer_started and info.reasoning_chunks else 0
        return [
            sse({"type": "content_block_stop", "index": index}, "content_block_stop"),
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
        out = [
            self._event(info, "response.created", response=self._response(info, "in_progress")),
            self._event(info, "response.in_progress", response=self._response(info, "in_progress")),
        ]
        if not info.reasoning_chunks:
            return [*out, self._message_added(info)]
        item = {"id": f"rs_{info.request_id}", "type": "reasoning", "summary": []}
        return [
            *out,
            self._event(info, "response.output_item.added", output_index=0, item=item),
            self._event(
                info,
                "response.reasoning_summary_part.added",
                item_id=item["id"],
                output_index=0,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            ),
        ]

    def _message_added(self, info: StreamInfo) -> bytes:
        """The answer's message item opens after the reasoning item (output index 1), else first."""
        index = 1 if info.reasoning_chunks else 0
        item = {"id": f"msg_{info.request_id}", "type": "message", "status": "in_progress"}
        added = self._event(
            info,
            "response.output_item.added",
            output_index=index,
            item={**item, "role": "assistant", "content": []},
        )
        return added + self._event(
            info,
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        return self._event(
            info,
            "response.reasoning_summary_text.delta",
            item_id=f"rs_{info.request_id}",
            output_index=0,
            summary_index=0,
            delta=text,
        )

    def content(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes:
        head = b""
        if info.reasoning_chunks and not info.answer_started:
            head = self._message_added(info)
        info.answer_started = True
        info.answer.append(text)
        return head + self._event(
            info,
            "response.output_text.delta",
            item_id=f"msg_{info.request_id}",
            output_index=1 if info.reasoning_chunks else 0,
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
                output_index=1 if info.reasoning_chunks else 0,
                content_index=0,
                text="".join(info.answer),
            )
        ]

    def terminator(self, info: StreamInfo) -> bytes:
        usage = {
            "input_tokens": info.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": info.completion,
            "output_tokens_details": {"reasoning_tokens": info.reasoning_sent},
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
        self,
        info: StreamInfo,
        text: str,
        so_far: int,
        finish: str | None = None,
        *,
        thought: bool = False,
    ) -> bytes:
        part: dict[str, Any] = {"text": text, "thought": True} if thought else {"text": text}
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        # thoughts are counted apart from the answer's candidates; a thought event carries no
        # candidates count
        usage: dict[str, int] = {"promptTokenCount": info.prompt_tokens}
        if not thought:
            usage["candidatesTokenCount"] = so_far - info.reasoning_sent
        usage["totalTokenCount"] = info.prompt_tokens + so_far
        if info.reasoning_sent:
            usage["thoughtsTokenCount"] = info.reasoning_sent
        obj = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": info.model,
            "responseId": info.request_id,
        }
        return sse(obj, end="\r\n")

    def opening(self, info: StreamInfo) -> list[bytes]:
        return []

    def reasoning(self, info: StreamInfo, text: str, tokens: int, so_far: int) -> bytes | None:
        return self._response(info, text, so_far, thought=True)

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
