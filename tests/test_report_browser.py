"""The report in a real browser: no console error, every figure drawn, the answer on the first screen.

Slow and optional: it needs Debian's `chromium` and the Python `playwright` package, which
`make test-slow` installs. It drives the system Chromium (no browser download).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transferlab.study import parse_spec, run_study

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, feature_csv: str) -> Path:
    spec = {
        "name": "browser",
        "task": {"dataset": feature_csv, "feature_columns": ["f0", "f1", "f2", "f3"], "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["linear-probe", "knn", "prototype"],
        "baselines": ["raw-logreg"],
        "budgets": [6, 12, 30],
        "seeds": 3,
    }
    out = tmp_path_factory.mktemp("browser-run")
    run_study(parse_spec(spec), out, progress=False)
    return out / "report.html"


def test_report_renders_in_chromium_with_the_answer_on_the_first_screen(report: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test-slow installs it)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        figures = page.eval_on_selector_all(
            "svg", "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])"
        )
        answer = page.eval_on_selector("#answer li", "e => e.getBoundingClientRect().toJSON()")
        page.screenshot(path=str(report.with_name("first-screen.png")))
        browser.close()
    assert errors == []
    assert figures and all(w > 0 and h > 0 for w, h in figures)
    assert answer["top"] >= 0 and answer["bottom"] <= 800  # the first answer is visible without scrolling
