"""A PNG of a plotly figure, for the README: headless Chromium screenshots a self-contained page.

    save_png(fig, Path("bench/results/search.png"))   # needs `chromium` on PATH; else returns False

plotly's own `write_image` needs kaleido (and a Chrome of its own); the Chromium the dashboard tests
use already renders the page, so no further dependency is needed for one committed picture.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def save_png(fig, path: Path, width: int = 1200, height: int = 520) -> bool:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "figure.html"
        fig.write_html(
            page, include_plotlyjs=True, full_html=True, config={"displayModeBar": False}
        )  # plotly.js inline: no network needed
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={folder}/profile",
                f"--window-size={width},{height}",
                "--virtual-time-budget=10000",
                f"--screenshot={path.resolve()}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return result.returncode == 0 and path.exists()
