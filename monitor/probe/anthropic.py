"""Anthropic Messages streaming (`POST /messages`).

`message_start` (input usage) → `content_block_start` → `content_block_delta` (`text_delta`,
`thinking_delta`) … → `message_delta` (`stop_reason`, cumulative output usage) → `message_stop`.
`ping` keeps the line alive; `error` events arrive after HTTP 200 (e.g. `overloaded_error`).
Unknown event types are to be ignored (the vendor's versioning policy).
"""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import Target
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.probe.wire import (
    WireEvent,
    WireRequest,
    int_or_none,
    parse_json,
    provider_of,
    with_params,
)

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicWire:
    api: ClassVar[str] = "anthropic"
    reasoning_summaries: ClassVar[bool] = True
    """Claude 4 models stream a summary of their thinking; `output_tokens` bills the whole of it."""

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        body: dict[str, Any] = {
            "model": target.model,
            "max_tokens": max_tokens,
            "stream": True,
            "temperature": 0,
            "messages": [{"role": "user", "content": prompt.text}],
        }
        body = with_params(body, target.params)
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        headers.update(provider_of(target).extra_headers)
        return WireRequest("/messages", body, headers)

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def classify(self, event: SseEvent) -> WireEvent:
        obj, bad = parse_json(event)
        if obj is None:
            assert bad is not None
            return bad
        kind = obj.get("type", event.event)
        out = WireEvent()
        if kind == "content_block_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict):
                if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                    out.text = delta["text"]
                elif delta.get("type") == "thinking_delta" and isinstance(
                    delta.get("thinking"), str
                ):
                    out.reasoning = delta["thinking"]
        elif kind == "message_start":
            message = obj.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("model"), str):
                    out.model = message["model"]
                if isinstance(message.get("id"), str):
                    out.request_id = message["id"]
                usage = message.get("usage")
                if isinstance(usage, dict):
                    out.usage = {
                        "prompt_tokens": int_or_none(usage.get("input_tokens")),
                        "completion_tokens": int_or_none(usage.get("output_tokens")),
                        "cached_tokens": int_or_none(usage.get("cache_read_input_tokens")),
                    }
        elif kind == "message_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                out.finish_reason = delta["stop_reason"]
            usage = obj.get("usage")
            if isinstance(usage, dict):
                out.usage = {"completion_tokens": int_or_none(usage.get("output_tokens"))}
                if int_or_none(usage.get("input_tokens")) is not None:
                    out.usage["prompt_tokens"] = int_or_none(usage.get("input_tokens"))
        elif kind == "message_stop":
            out.terminal = True
        elif kind == "error":
            err = obj.get("error")
            if isinstance(err, dict):
                out.error = f"{err.get('type', 'error')}: {err.get('message', '')}"
            else:
                out.error = f"error: {err}"
        return out
