"""OpenAI Responses streaming (`POST /responses`): typed events, no `[DONE]`.

Every event names its type (`event:` line and `data.type`); the stream ends with a terminal
event: `response.completed` (usage in `response.usage`), `response.incomplete`
(`incomplete_details.reason`, e.g. `max_output_tokens`), or `response.failed` (`response.error`).
An `error` event can arrive after HTTP 200. Answer text comes in `response.output_text.delta` and,
for a refusal, `response.refusal.delta`; reasoning in `response.reasoning_summary_text.delta` (a
summary written for the user) or `response.reasoning_text.delta`. Everything else is framing or
tool traffic.
"""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import Target
from monitor.probe.openai_common import bearer
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

ANSWER_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta"})
REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)


def usage_of(raw: object) -> dict[str, int | None] | None:
    """`output_tokens` already counts `output_tokens_details.reasoning_tokens`."""
    if not isinstance(raw, dict):
        return None
    cached = raw.get("input_tokens_details")
    details = raw.get("output_tokens_details")
    out: dict[str, int | None] = {
        "prompt_tokens": int_or_none(raw.get("input_tokens")),
        "completion_tokens": int_or_none(raw.get("output_tokens")),
        "cached_tokens": int_or_none(cached.get("cached_tokens"))
        if isinstance(cached, dict)
        else None,
    }
    reasoning = int_or_none(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    if reasoning is not None:
        out["reasoning_tokens"] = reasoning
    return out


def _error_text(raw: object, fallback: str) -> str:
    if isinstance(raw, dict):
        kind = raw.get("code") or raw.get("type") or fallback
        return short(f"{kind}: {raw.get('message', '')}")
    return short(f"{fallback}: {raw}")


class OpenAIResponsesWire:
    api: ClassVar[str] = "openai-responses"
    reasoning_summaries: ClassVar[bool] = True

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        # no temperature: the reasoning models this API serves reject it (a target's params may
        # add one); `store: false` keeps probe answers out of the account's stored responses
        body: dict[str, Any] = {
            "model": target.model,
            "input": prompt.text,
            "stream": True,
            "max_output_tokens": max_tokens,
            "store": False,
        }
        body = with_params(body, target.params)
        return WireRequest("/responses", body, dict(provider_of(target).extra_headers))

    def auth_headers(self, key: str) -> dict[str, str]:
        return bearer(key)

    def classify(self, event: SseEvent) -> WireEvent:
        obj, bad = parse_json(event)
        if obj is None:
            assert bad is not None
            return bad
        kind = obj.get("type", event.event)
        out = WireEvent()
        delta = obj.get("delta")
        if kind in ANSWER_DELTAS:
            if isinstance(delta, str):
                out.text = delta
        elif kind in REASONING_DELTAS:
            if isinstance(delta, str):
                out.reasoning = delta
        elif kind == "error":
            # the spec puts code/message at the top; captures nest them in `error`
            out.error = _error_text(obj.get("error", obj), "error")
        elif isinstance(kind, str) and kind.startswith("response."):
            self._lifecycle(kind, obj.get("response"), out)
        return out

    @staticmethod
    def _lifecycle(kind: str, response: object, out: WireEvent) -> None:
        if not isinstance(response, dict):
            return
        if isinstance(response.get("model"), str):
            out.model = response["model"]
        if isinstance(response.get("id"), str):
            out.request_id = response["id"]
        if kind == "response.completed":
            out.terminal = True
            out.finish_reason = "completed"
            out.usage = usage_of(response.get("usage"))
        elif kind == "response.incomplete":
            out.terminal = True
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            out.finish_reason = reason if isinstance(reason, str) else "incomplete"
            out.usage = usage_of(response.get("usage"))
        elif kind == "response.failed":
            out.terminal = True
            out.error = _error_text(response.get("error"), "failed")
