"""OpenAI legacy Completions streaming (`POST /completions`): text in `choices[0].text`."""

from __future__ import annotations

from typing import ClassVar

from monitor.config import Target
from monitor.probe.openai_common import apply_common, bearer, stream_body
from monitor.probe.prompts import Prompt
from monitor.probe.sse import SseEvent
from monitor.probe.wire import WireEvent, WireRequest, parse_json, provider_of, with_params


class OpenAICompletionsWire:
    api: ClassVar[str] = "openai-completions"

    def build_request(self, target: Target, prompt: Prompt, max_tokens: int) -> WireRequest:
        body = stream_body(target, max_tokens)
        body["prompt"] = prompt.text
        body = with_params(body, target.params)
        return WireRequest("/completions", body, dict(provider_of(target).extra_headers))

    def auth_headers(self, key: str) -> dict[str, str]:
        return bearer(key)

    def classify(self, event: SseEvent) -> WireEvent:
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
            if isinstance(choice.get("text"), str):
                out.text = choice["text"]
            ids = choice.get("token_ids")
            if isinstance(ids, list):
                out.token_ids = len(ids)
            if isinstance(choice.get("finish_reason"), str):
                out.finish_reason = choice["finish_reason"]
        return out
