"""Provider presets: what a target's `provider` implies when the config leaves it out.

Pure data so that `config` (validation, defaults) and `probe` (request quirks) share one table.
A target may override every field; presets only save typing and encode vendor quirks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

APIS: Final = ("openai-chat", "openai-completions", "anthropic", "openai-responses", "gemini")
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
    stream_options: bool = True
    """Accepts `stream_options` (Mistral answers 422 to it, and sends usage on the last chunk
    anyway)."""
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
        # OpenAI-compatible vendors; quirks in docs/providers.md
        Provider(
            "mistral",
            "openai-chat",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
            stream_options=False,
        ),
        Provider("deepseek", "openai-chat", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        Provider("xai", "openai-chat", "https://api.x.ai/v1", "XAI_API_KEY"),
        Provider(
            "cerebras",
            "openai-chat",
            "https://api.cerebras.ai/v1",
            "CEREBRAS_API_KEY",
            server_timings="time_info",
        ),
        Provider("openrouter", "openai-chat", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        # OpenAI's Responses API: `provider: openai` with `api: openai-responses` is the same thing
        Provider(
            "openai-responses", "openai-responses", "https://api.openai.com/v1", "OPENAI_API_KEY"
        ),
        Provider(
            "gemini",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            "GEMINI_API_KEY",
        ),
        Provider("openai-compatible", "openai-chat", None, None),
        Provider("simulator", "openai-chat", None, None, supports_min_tokens=True),
    )
}
