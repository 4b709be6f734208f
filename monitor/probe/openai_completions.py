"""OpenAI legacy Completions streaming (`POST /completions`): text in `choices[0].text`."""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import Target
from monitor.probe.openai_chat import token_ids_in
from monitor.probe.openai_common import bearer, classify_openai, stream_body
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.probe.wire import WireEvent, WireRequest, provider_of, with_params


class OpenAICompletionsWire:
    api: ClassVar[str] = "openai-completions"
    reasoning_summaries: ClassVar[bool] = False

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        body = stream_body(target, max_tokens)
        body["prompt"] = prompt.text
        body = with_params(body, target.params)
        return WireRequest("/completions", body, dict(provider_of(target).extra_headers))

    def auth_headers(self, key: str) -> dict[str, str]:
        return bearer(key)

    def classify(self, event: SseEvent) -> WireEvent:
        return classify_openai(event, _read_text)


def _read_text(choice: dict[str, Any], out: WireEvent) -> None:
    if isinstance(choice.get("text"), str):
        out.text = choice["text"]
    delta = choice.get("delta")  # Together puts `token_id` in a delta here too
    ids = token_ids_in(choice, delta if isinstance(delta, dict) else {})
    if ids is not None:
        out.token_ids = ids
