"""The options that name an endpoint, shared by `probe`, `profile` and `capacity`.

Each is declared once here (flag, type, help); a command takes them as parameters typed with
these aliases, so the three commands describe an endpoint the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.providers import APIS, PROVIDERS

BaseUrl = Annotated[str | None, typer.Option("--base-url", help="API base, e.g. .../v1")]
Model = Annotated[str | None, typer.Option("--model", help="Model name to request.")]
Api = Annotated[str | None, typer.Option("--api", help=f"Wire format: {', '.join(APIS)}.")]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider", help=f"Preset (base URL, API, key variable): {', '.join(sorted(PROVIDERS))}."
    ),
]
ApiKeyEnv = Annotated[
    str | None, typer.Option("--api-key-env", help="NAME of the env var holding the key.")
]
TargetName = Annotated[str | None, typer.Option("--target", help="Use this target from --config.")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="Config YAML.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
TokenizerName = Annotated[
    str, typer.Option("--tokenizer", help="builtin, or tiktoken:<encoding> if cached.")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the prompt prose (and arrivals).")]

__all__ = [
    "Api",
    "ApiKeyEnv",
    "BaseUrl",
    "ConfigFile",
    "Json",
    "Model",
    "Provider",
    "Seed",
    "TargetName",
    "TokenizerName",
]
