"""Write (or check) the provisioned dashboards: `python grafana/generate.py [--check] [--out DIR]`.

The JSON in `grafana/dashboards/` is generated from `grafana/etalon_dashboards/` with
grafana-foundation-sdk pinned to the Grafana 11.6 models; never edit the JSON by hand.
`--check` exits 1 when the committed files differ from what the code generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from etalon_dashboards import fleet, probe_trace, sla, target  # noqa: E402

DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "fleet-overview.json": fleet.build,
    "target-drill-down.json": target.build,
    "sla-review.json": sla.build,
    "probe-trace.json": probe_trace.build,
}


def render(build: Callable[[], Dashboard]) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline.

    The SDK leaves panel ids unset (rows get 0); Grafana needs them unique for links and
    `viewPanel`, so they are numbered here in layout order.
    """
    board = build().build()
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "dashboards")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        text = render(build)
        path: Path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python grafana/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
