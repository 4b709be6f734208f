"""What OpenAI chat and legacy completions share: request extras, usage, errors, vendor fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.config import Target
from monitor.probe.sse import SseEvent
from monitor.probe.wire import WireEvent, int_or_none, parse_json, provider_of


def stream_body(target: Target, max_tokens: int) -> dict[str, Any]:
    provider = provider_of(target)
    body: dict[str, Any] = {
        "model": target.model,
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if provider.stream_options:
        options: dict[str, Any] = {"include_usage": True}
        if provider.continuous_usage_stats:
            options["continuous_usage_stats"] = True
        body["stream_options"] = options
    if provider.supports_min_tokens:
        body["min_tokens"] = max_tokens
        body["ignore_eos"] = True
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def usage_of(raw: object) -> dict[str, int | None] | None:
    """The project's usage: `completion_tokens` counts every generated token, reasoning included.

    OpenAI counts `completion_tokens_details.reasoning_tokens` inside `completion_tokens`; xAI
    reports them apart (its `total_tokens` is prompt + completion + reasoning). The stream's own
    total tells which: when it equals prompt + completion + reasoning, the reasoning is added in.
    Example (xAI grok-3-mini): prompt 12, completion 1, reasoning 290, total 303 = 12 + 1 + 290
    → completion_tokens 291, reasoning_tokens 290.
    """
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details")
    cached = int_or_none(details.get("cached_tokens")) if isinstance(details, dict) else None
    prompt = int_or_none(raw.get("prompt_tokens"))
    completion = int_or_none(raw.get("completion_tokens"))
    out: dict[str, int | None] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
    }
    extra = raw.get("completion_tokens_details")
    reasoning = int_or_none(extra.get("reasoning_tokens")) if isinstance(extra, dict) else None
    if reasoning:
        out["reasoning_tokens"] = reasoning
        total = int_or_none(raw.get("total_tokens"))
        if (
            prompt is not None
            and completion is not None
            and total == prompt + completion + reasoning
        ):
            out["completion_tokens"] = completion + reasoning
    return out


def error_text(raw: object) -> str:
    if isinstance(raw, dict):
        kind = raw.get("type") or raw.get("code") or "error"
        return f"{kind}: {raw.get('message', '')}"
    return str(raw)


def apply_common(obj: dict[str, Any], out: WireEvent) -> None:
    """Fields outside `choices`: usage, errors, model, and the Groq `x_groq` extension."""
    if obj.get("error"):
        out.error = error_text(obj["error"])
    if isinstance(obj.get("model"), str):
        out.model = obj["model"]
    usage = usage_of(obj.get("usage"))
    if usage is not None:
        out.usage = usage
        out.completion_tokens_so_far = usage.get("completion_tokens")
    token = obj.get("token")
    if isinstance(token, dict) and int_or_none(token.get("id")) is not None:
        out.token_ids = 1  # Together's older shape: one token object per event
    timings = obj.get("time_info")
    if isinstance(timings, dict):  # Cerebras: its own queue/prompt/completion times
        out.server_timings = {
            k: v for k, v in timings.items() if isinstance(v, int | float) and k.endswith("_time")
        }
    groq = obj.get("x_groq")
    if isinstance(groq, dict):
        if isinstance(groq.get("id"), str):
            out.request_id = groq["id"]
        gusage = groq.get("usage")
        if isinstance(gusage, dict):
            out.server_timings = {
                k: v
                for k, v in gusage.items()
                if isinstance(v, int | float) and k.endswith("_time")
            }
            if out.usage is None:
                out.usage = usage_of(gusage)
        if groq.get("error"):
            out.error = f"x_groq: {groq['error']}"


def classify_openai(
    event: SseEvent, read_choice: Callable[[dict[str, Any], WireEvent], None]
) -> WireEvent:
    """What both OpenAI formats share: `[DONE]`, JSON, top-level fields, the first choice's
    `finish_reason`; `read_choice` reads the format's own text fields from that choice."""
    if event.data.strip() == "[DONE]":
        return WireEvent(terminal=True)
    obj, bad = parse_json(event)
    if obj is None:
        assert bad is not None
        return bad
    out = WireEvent()
    apply_common(obj, out)
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        read_choice(choice, out)
        if isinstance(choice.get("finish_reason"), str):
            out.finish_reason = choice["finish_reason"]
    return out
