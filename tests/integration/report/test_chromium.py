"""The HTML report in a real headless Chromium (Debian `chromium`): it renders to a non-blank
screenshot with the charts drawn, its DOM has no script, vendor text shows as text, and the PDF
path produces a PDF."""

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from monitor import trace as trace_codec
from monitor.cli import app
from monitor.report.browser import BrowserError, find_browser, run_headless
from monitor.report.render_html import render_html
from monitor.report.svg import PALETTE
from monitor.trace import Outcome, Trace
from tests.unit.report.conftest import build
from tests.unit.report.factories import cycle_traces, make_trace

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser() -> str:
    try:
        return find_browser()
    except BrowserError as e:
        pytest.fail(f"these tests need headless Chromium (.ci/apt-packages.txt): {e}")


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    stalled = make_trace(
        [(200_000_000, 1), (3_200_000_000, 1)],
        probe_id="evil-stalled",
        target="evil",
        texts=[HOSTILE, " done"],
    )
    failed = make_trace(
        [], probe_id="evil-failed", target="evil", outcome=Outcome.HTTP_ERROR, error=HOSTILE
    )
    return [*cycle_traces(hours=6), stalled, failed]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return (int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16))


def test_screenshot_is_drawn(tmp_path: Path, browser: str, traces: list[Trace]) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(build(traces)), encoding="utf-8")
    png = tmp_path / "report.png"
    done = run_headless(
        browser,
        ["--hide-scrollbars", "--window-size=1400,2600", f"--screenshot={png}"],
        page,
    )
    assert "Uncaught" not in done.stderr
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 2600)
    counts = image.getcolors(1 << 24)
    assert counts is not None
    total = 1400 * 2600
    white = sum(n for n, c in counts if c == (255, 255, 255))
    assert (total - white) / total > 0.05
    colours = {c for _, c in counts}
    assert len(colours) > 50
    # both targets' series colours are on screen: the SVG charts were drawn
    for hex_color in PALETTE[:2]:
        assert _rgb(hex_color) in colours, hex_color


def test_dom_has_no_script_and_shows_vendor_text_as_text(
    tmp_path: Path, browser: str, traces: list[Trace]
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(build(traces)), encoding="utf-8")
    dom = run_headless(browser, ["--dump-dom"], page).stdout
    assert "<svg" in dom
    assert "<script" not in dom.lower()
    # as text: the failed probe's error (top errors, incident) and the stalled one's output
    assert dom.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3


def test_pdf_via_the_command(tmp_path: Path, browser: str, traces: list[Trace]) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text(trace_codec.dumps(traces))
    out = tmp_path / "review.pdf"
    result = CliRunner().invoke(
        app, ["report", "--traces", str(path), "--out", str(out), "--browser", browser]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(data) > 10_000


def test_pdf_without_a_browser_is_a_clear_error(tmp_path: Path, traces: list[Trace]) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text(trace_codec.dumps(traces[:5]))
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--traces",
            str(path),
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "r.pdf"),
            "--browser",
            str(tmp_path / "no-such-browser"),
        ],
    )
    assert result.exit_code == 2
    assert "cannot write PDF" in result.stderr
    assert not (tmp_path / "r.pdf").exists()
