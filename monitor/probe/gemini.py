"""Google Gemini streaming (`POST /models/{model}:streamGenerateContent?alt=sse`).

Without `alt=sse` the endpoint streams one JSON array instead of events. Each event is a whole
`GenerateContentResponse`: text in `candidates[0].content.parts[].text`, parts with
`"thought": true` are thought summaries (only with `thinkingConfig.includeThoughts`),
`usageMetadata` is cumulative (the last one counts) and keeps `thoughtsTokenCount` apart from
`candidatesTokenCount`; when every answer event carries it, its growth is each event's exact
token count (Gemini's events are tens to hundreds of tokens, where a tokenizer's split is rough).
There is no terminator: the event with `finishReason` is the last. A blocked prompt answers 200
with `promptFeedback.blockReason` and no candidates. The key goes in the `x-goog-api-key` header,
never in the URL (`?key=` would put it in every proxy and access log).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from monitor.config import Target
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.probe.wire import (
    WireEvent,
    WireRequest,
    int_or_none,
    parse_json,
    provider_of,
    short,
    with_params,
)


def usage_of(raw: object) -> dict[str, int | None] | None:
    """Thoughts are added in: `completion_tokens` counts every generated token (the project's
    convention, docs/trace-format.md). Example: candidates 29, thoughts 256 → completion 285."""
    if not isinstance(raw, dict):
        return None
    candidates = int_or_none(raw.get("candidatesTokenCount"))
    thoughts = int_or_none(raw.get("thoughtsTokenCount"))
    out: dict[str, int | None] = {
        "prompt_tokens": int_or_none(raw.get("promptTokenCount")),
        "cached_tokens": int_or_none(raw.get("cachedContentTokenCount")),
    }
    if candidates is not None:
        out["completion_tokens"] = candidates + (thoughts or 0)
    if thoughts is not None:
        out["reasoning_tokens"] = thoughts
    return out


class GeminiWire:
    api: ClassVar[str] = "gemini"
    reasoning_summaries: ClassVar[bool] = True

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        config: dict[str, Any] = {"maxOutputTokens": max_tokens, "temperature": 0}
        extra = target.params.get("generationConfig")
        if isinstance(extra, dict):  # merged, so setting thinkingConfig keeps maxOutputTokens
            config = {k: v for k, v in {**config, **extra}.items() if v is not None}
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": prompt.text}]}],
            "generationConfig": config,
        }
        params = {k: v for k, v in target.params.items() if k != "generationConfig"}
        body = with_params(body, params)
        model = quote(target.model.removeprefix("models/"), safe="-._~")
        path = f"/models/{model}:streamGenerateContent?alt=sse"
        return WireRequest(path, body, dict(provider_of(target).extra_headers))

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def classify(self, event: SseEvent) -> WireEvent:
        obj, bad = parse_json(event)
        if obj is None:
            assert bad is not None
            return bad
        out = WireEvent()
        err = obj.get("error")
        if err:
            if isinstance(err, dict):
                kind = err.get("status") or err.get("code") or "error"
                out.error = short(f"{kind}: {err.get('message', '')}")
            else:
                out.error = short(f"error: {err}")
            return out
        if isinstance(obj.get("modelVersion"), str):
            out.model = obj["modelVersion"]
        if isinstance(obj.get("responseId"), str):
            out.request_id = obj["responseId"]
        usage = usage_of(obj.get("usageMetadata"))
        if usage is not None:
            out.usage = usage
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, dict) and isinstance(feedback.get("blockReason"), str):
            out.error = short(f"prompt blocked: {feedback['blockReason']}")
        candidates = obj.get("candidates")
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            candidate = candidates[0]
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            if isinstance(parts, list):
                for part in parts:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        if part.get("thought") is True:
                            out.reasoning += part["text"]
                        else:
                            out.text += part["text"]
            raw = obj.get("usageMetadata")
            so_far = int_or_none(raw.get("candidatesTokenCount")) if isinstance(raw, dict) else None
            if out.text and not out.reasoning:
                # answer tokens so far; thought events have no such count and leave it unset, so
                # a stream with thought summaries falls back to splitting the totals
                out.completion_tokens_so_far = so_far
            if isinstance(candidate.get("finishReason"), str):
                out.finish_reason = candidate["finishReason"]
                out.terminal = True
        return out
