"""The one protocol every wire format implements, and the table of them.

A wire module only speaks its API: it builds the request body and classifies each SSE event. It does
no I/O and reads no clock; `client.py` owns those. `classify` must never raise on vendor input: a
payload it can't understand comes back as `WireEvent(malformed=...)`, and the client decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol

from monitor.config import Target
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.providers import PROVIDERS, Provider


@dataclass(frozen=True, slots=True)
class WireRequest:
    path: str
    """Appended to the target's base URL, e.g. `/chat/completions`."""
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class WireEvent:
    """What one SSE event meant. Several fields can be set at once (OpenAI puts usage and a finish
    reason on a content chunk for some vendors)."""

    text: str = ""
    reasoning: str = ""
    token_ids: int | None = None
    """Tokens in this event by the server's own count (token ids sent per chunk). An event with
    token ids and no text (half a multi-byte character, the end-of-sequence token) still carries
    generated tokens: it becomes a chunk with empty text."""
    completion_tokens_so_far: int | None = None
    """Cumulative completion tokens reported with this event (continuous usage stats)."""
    usage: dict[str, int | None] | None = None
    finish_reason: str | None = None
    error: str | None = None
    """A mid-stream error reported by the vendor, `type: message`, NOT cut short: the prober
    scrubs secrets from it first, then shortens it (a key cut in half would survive scrubbing)."""
    terminal: bool = False
    """The protocol's end marker (`[DONE]`, `message_stop`)."""
    malformed: str | None = None
    """Why the payload could not be understood."""
    model: str | None = None
    request_id: str | None = None
    server_timings: dict[str, Any] | None = None


def parse_json(event: SseEvent) -> tuple[dict[str, Any] | None, WireEvent | None]:
    """The event's JSON object, or a `WireEvent` saying why there is none."""
    try:
        obj = json.loads(event.data)
    except ValueError:
        return None, WireEvent(malformed=f"data is not JSON ({len(event.data)} bytes)")
    if not isinstance(obj, dict):
        return None, WireEvent(malformed="data is not a JSON object")
    return obj, None


def short(text: object, limit: int = 160) -> str:
    s = str(text).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Wire(Protocol):
    api: ClassVar[str]
    reasoning_summaries: ClassVar[bool]
    """The reasoning this API streams is a summary written for the user (OpenAI Responses, Gemini
    thoughts), not the reasoning tokens themselves: usage's reasoning count says nothing about it,
    so its chunks keep the tokenizer's counts."""

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest: ...

    def auth_headers(self, key: str) -> dict[str, str]: ...

    def classify(self, event: SseEvent) -> WireEvent: ...


def with_params(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The target's `params` override the body; a param set to null removes that field (for
    servers that reject one the prober sends by default, e.g. `stream_options`)."""
    merged = {**body, **params}
    return {k: v for k, v in merged.items() if v is not None}


def provider_of(target: Target) -> Provider:
    return PROVIDERS[target.provider]


def _table() -> dict[str, Wire]:
    from monitor.probe.anthropic import AnthropicWire  # noqa: PLC0415  (cycle)
    from monitor.probe.gemini import GeminiWire  # noqa: PLC0415  (cycle)
    from monitor.probe.openai_chat import OpenAIChatWire  # noqa: PLC0415  (cycle)
    from monitor.probe.openai_completions import OpenAICompletionsWire  # noqa: PLC0415  (cycle)
    from monitor.probe.openai_responses import OpenAIResponsesWire  # noqa: PLC0415  (cycle)

    wires: tuple[Wire, ...] = (
        OpenAIChatWire(),
        OpenAICompletionsWire(),
        AnthropicWire(),
        OpenAIResponsesWire(),
        GeminiWire(),
    )
    return {w.api: w for w in wires}


WIRES: Final[dict[str, Wire]] = _table()
