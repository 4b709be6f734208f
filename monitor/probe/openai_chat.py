"""OpenAI Chat Completions streaming (`POST /chat/completions`), and the compatible vendors.

Role-only first chunk (no token), `delta.content` / `delta.reasoning` (or the older
`reasoning_content`), `finish_reason`, a usage-only chunk with `choices: []` before `data: [DONE]`,
errors as `data: {"error": {...}}`. Together sends `delta.token_id`, vLLM may send `token_ids`.
A refusal arrives in `delta.refusal` with `content: null`: the user reads it as the answer, so it
is answer text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import Target
from monitor.probe.openai_common import bearer, classify_openai, stream_body
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.probe.wire import WireEvent, WireRequest, provider_of, with_params


def token_ids_in(choice: dict[str, Any], delta: dict[str, Any]) -> int | None:
    for holder in (delta, choice):
        ids = holder.get("token_ids")
        if isinstance(ids, list):
            return len(ids)
        if isinstance(holder.get("token_id"), int):
            return 1
    return None


class OpenAIChatWire:
    api: ClassVar[str] = "openai-chat"
    reasoning_summaries: ClassVar[bool] = False

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        body = stream_body(target, max_tokens)
        body["messages"] = [{"role": "user", "content": prompt.text}]
        body = with_params(body, target.params)
        return WireRequest("/chat/completions", body, dict(provider_of(target).extra_headers))

    def auth_headers(self, key: str) -> dict[str, str]:
        return bearer(key)

    def classify(self, event: SseEvent) -> WireEvent:
        return classify_openai(event, _read_delta)


def _read_delta(choice: dict[str, Any], out: WireEvent) -> None:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        if isinstance(content, str):
            out.text = content
        refusal = delta.get("refusal")
        if isinstance(refusal, str):
            out.text += refusal
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if isinstance(reasoning, str):
            out.reasoning = reasoning
        ids = token_ids_in(choice, delta)
        if ids is not None:
            out.token_ids = ids
