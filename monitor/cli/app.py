"""The typer application every sub-command module registers on."""

import typer

app = typer.Typer(
    name="etalon-monitor",
    help="Fluidity-index monitoring of streaming LLM APIs (Etalon metrics, Prometheus).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Keeps `etalon-monitor` a command group even while it has a single sub-command."""
