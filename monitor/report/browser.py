"""Headless Chromium for PDF output: the browser that renders the HTML is the one that prints it,
so the PDF looks like the page.

The flags keep it offline and stateless: no sandbox (containers, root), no GPU, no QUIC, no
first-run, background networking, component updates or sync, and a throw-away profile directory.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT_S = 120.0


class BrowserError(RuntimeError):
    """No headless browser, or it failed; the message says what to install or what went wrong."""


def find_browser(explicit: str | None = None) -> str:
    if explicit:
        path = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        if path is None:
            raise BrowserError(f"browser {explicit!r} not found")
        return path
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(
        "PDF output needs headless Chromium; install it (Debian: apt-get install chromium) "
        "or pass --browser PATH, or use --format html"
    )


def headless_args(browser: str, profile_dir: Path) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
    ]


def run_headless(
    browser: str, extra: Sequence[str], page: Path, timeout_s: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the browser on a local file with a fresh profile; raise `BrowserError` on failure."""
    with tempfile.TemporaryDirectory(prefix="etalon-chromium-") as profile:
        args = [*headless_args(browser, Path(profile)), *extra, page.resolve().as_uri()]
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise BrowserError(f"{browser} did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise BrowserError(f"{browser} exited with {done.returncode}: {' | '.join(tail)}")
    return done


def print_pdf(html_path: Path, pdf_path: Path, browser: str | None = None) -> None:
    exe = find_browser(browser)
    pdf_path.unlink(missing_ok=True)
    run_headless(exe, ["--no-pdf-header-footer", f"--print-to-pdf={pdf_path.resolve()}"], html_path)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise BrowserError(f"{exe} wrote no PDF to {pdf_path}")
