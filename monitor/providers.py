"""Provider presets: what a target's `provider` implies when the config leaves it out.

Pure data so that `config` (validation, defaults) and `probe` (request quirks) share one table.
A target may override every field; presets only save typing and encode vendor quirks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

APIS: Final = ("openai-chat", "openai-completions", "anthropic")
"""Wire formats the prober speaks; `probe.wire.WIRES` implements exactly these."""


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    api: str
    base_url: str | None
    api_key_env: str | None
    continuous_usage_stats: bool = False
    """Ask for per-chunk usage (vLLM/SGLang `stream_options.continuous_usage_stats`)."""
    token_ids: bool = False
    """The vendor sends token ids per chunk (Together): count tokens from them."""
    server_timings: str | None = None
    """Where the vendor reports its own timings in the usage chunk (Groq: `x_groq`)."""
    supports_min_tokens: bool = False
    """Accepts `min_tokens`/`ignore_eos` so a probe always yields `max_tokens` tokens."""
    extra_headers: dict[str, str] = field(default_factory=dict)


PROVIDERS: Final[dict[str, Provider]] = {
    p.name: p
    for p in (
        Provider("openai", "openai-chat", "https://api.openai.com/v1", "OPENAI_API_KEY"),
        Provider(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com/v1",
            "ANTHROPIC_API_KEY",
            extra_headers={"anthropic-version": "2023-06-01"},
        ),
        Provider(
            "groq",
            "openai-chat",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
            server_timings="x_groq",
        ),
        Provider(
            "fireworks", "openai-chat", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"
        ),
        Provider(
            "together",
            "openai-chat",
            "https://api.together.xyz/v1",
            "TOGETHER_API_KEY",
            token_ids=True,
        ),
        Provider(
            "deepinfra", "openai-chat", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY"
        ),
        Provider(
            "vllm",
            "openai-chat",
            None,
            None,
            continuous_usage_stats=True,
            supports_min_tokens=True,
        ),
        Provider(
            "sglang",
            "openai-chat",
            None,
            None,
            continuous_usage_stats=True,
            supports_min_tokens=True,
        ),
        Provider("openai-compatible", "openai-chat", None, None),
        Provider("simulator", "openai-chat", None, None, supports_min_tokens=True),
    )
}
