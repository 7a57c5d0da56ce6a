"""The dashboard in real headless Chromium, against a real ``pigeon serve`` process.

Needs Debian's ``chromium`` and the ``playwright`` Python package (its own
browser download is never used). Without them the test is skipped, unless
``PIGEON_REQUIRE_BROWSER=1`` (CI) turns the absence into a failure.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pigeon.collector.alerts import Alert, AlertState
from pigeon.collector.stats import day_to_iso, today_utc
from pigeon.collector.storage import open_store
from tests.conftest import clean_subprocess_env
from tests.dashboard._traffic import traffic

TOKEN = "browser-test-admin-token-5f1c"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = [
    "installs",
    "events",
    "versions",
    "adoption",
    "python",
    "systems",
    "machines",
    "errors",
    "bulk",
    "trainer",
    "clients",
    "languages",
]
REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALERT = Alert(
    "new-crashes|argilla|0123456789abcdef",
    "new-crashes",
    "new",
    "crash",
    "argilla",
    {"signature": "0123456789abcdef", "exception": "KeyError"},
    None,
    {"events": 9, "installs": 6, "days": 2, "look_back_days": 30},
)
UNAUTHORIZED = "Failed to load resource: the server responded with a status of 401 (Unauthorized)"


def _browser_or_skip() -> str:
    required = os.environ.get("PIGEON_REQUIRE_BROWSER") == "1"
    chromium = shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        chromium = None
    if chromium is None:
        message = "needs Debian's chromium and the playwright package"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    return chromium


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[str]:
    """A real ``pigeon serve`` on 127.0.0.1 over a store of plausible traffic; its URL."""
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    store = open_store(url)
    today = today_utc()
    events = traffic(today) + traffic(today, installs=12, seed=11, app="labelbox")

    async def fill() -> None:
        await store.write(events)
        await store.close()

    asyncio.run(fill())
    # One alert in the history (its webhook refuses connections: it stays pending).
    AlertState(tmp_path / "data" / "alerts.db").record(ALERT, ["ops"], int(time.time() * 1000))
    (tmp_path / "pigeon.toml").write_text(
        '[alerts]\n[[alerts.webhooks]]\nname = "ops"\nurl = "http://127.0.0.1:9/"\n'
    )
    env = clean_subprocess_env(PIGEON_ADMIN_TOKEN=TOKEN)
    command = [sys.executable, "-m", "pigeon.cli", "serve", "--store", url, "--port", "0"]
    command += ["--write-key", "browser-key", "--retention-days", "0", "--min-installs", "5"]
    command += ["--config", str(tmp_path / "pigeon.toml")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    seen: list[str] = []
    base = ""
    while not base and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        base = match.group(1) if match else ""
    try:
        assert base, f"the collector did not start: {''.join(seen)}"
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout.close()


def api(base: str, view: str, **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/api/v1/stats/{view}",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


CHART_STATE = """() => Array.from(document.querySelectorAll("canvas")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { painted += 1; } }
  return {
    id: canvas.id,
    type: chart ? chart.config.type : null,
    labels: chart ? chart.data.labels.length : 0,
    points: chart ? chart.data.datasets.reduce(
      (n, set) => n + set.data.filter((v) => v !== null && v !== 0).length, 0) : 0,
    painted: painted,
  };
})"""


def wait_loaded(page: Any, previous: str | None = None) -> str:
    page.wait_for_function(
        "(previous) => document.body.dataset.loaded && document.body.dataset.loaded !== previous",
        arg=previous,
        timeout=20_000,
    )
    loaded: str = page.evaluate("document.body.dataset.loaded")
    return loaded


def kpi(page: Any, name: str) -> str:
    text: str = page.inner_text(f"#kpi-{name}")
    return text


UPGRADE_CURVES = """() => Chart.getChart(document.getElementById("chart-adoption"))
  .data.datasets.map((set) => ({ label: set.label, data: set.data }))"""
RETENTION = """() => Array.from(document.querySelectorAll("#table-retention tbody tr"))
  .map((tr) => Array.from(tr.cells).map((td) => td.textContent))"""


def check_adoption(page: Any, body: dict[str, Any]) -> None:
    """The upgrade curves and the retention table show the adoption view's numbers."""
    hidden = f"< {body['min_installs']}"
    curves = {c["label"]: c["data"] for c in page.evaluate(UPGRADE_CURVES)}
    drawn = [s for s in body["upgrades"]["series"] if any(body_share for body_share in s["share"])]
    assert sorted(curves) == sorted(s["label"] for s in drawn)
    assert len(curves) >= 2  # the traffic upgrades through several versions
    for series in drawn:
        for share, point in zip(series["share"], curves[series["label"]], strict=True):
            assert (share is None) == (point is None)
            assert share is None or abs(point - 100 * share) < 0.051
    versions = page.locator("#table-upgrades tbody tr")
    assert versions.count() == len(body["upgrades"]["versions"])
    expected = [
        [
            row["week"],
            hidden if row["size"] is None else f"{row['size']:,}",
            *(
                hidden if count is None else "—" if percent is None else f"{percent:g} %"
                for count, percent in zip(row["active"], row["percent"], strict=True)
            ),
        ]
        for row in body["cohorts"]["rows"]
    ]
    assert page.evaluate(RETENTION) == expected
    assert any(row["size"] for row in body["cohorts"]["rows"])
    shaded = page.locator("#table-retention td[data-percent]")
    assert shaded.count() == sum(
        1 for row in body["cohorts"]["rows"] for p in row["percent"] if p is not None
    )


def cells(page: Any, table: str) -> list[list[str]]:
    rows: list[list[str]] = page.evaluate(
        """(id) => Array.from(document.querySelectorAll("#" + id + " tbody tr")).map(
          (tr) => Array.from(tr.cells).map((td) => td.textContent))""",
        table,
    )
    return rows


def rate(value: float | None) -> str:
    return "< 5" if value is None else f"{value:.2f}"  # the collector runs at k = 5


def check_release_health(page: Any, health: dict[str, Any]) -> None:
    """The release-health and top-crashes cards show the API's numbers."""
    versions = health["versions"]
    assert len(versions) >= 2
    assert cells(page, "table-release-versions") == [
        [v["version"], f"{v['installs']:,}", rate(v["error_rate"]), rate(v["crash_rate"])]
        for v in versions
    ]
    comparison = health["comparison"]
    assert comparison is not None
    title = page.inner_text("#release-comparison-title")
    assert title == f"Latest {comparison['latest']} vs previous {comparison['previous']}"
    shown = cells(page, "table-release-comparison")
    changes = comparison["errors"] + comparison["crashes"]
    assert changes
    assert len(shown) == len(changes)
    assert [row[2] for row in shown] == [c["status"] for c in changes]
    cut = comparison["more"]["errors"] or comparison["more"]["crashes"]
    note = page.text_content("#release-comparison-more")
    assert note == (f"The {comparison['limit']} most severe changes of each kind; "
                    "the export lists them all." if cut else "")  # fmt: skip
    crashes = health["top_crashes"]
    assert crashes
    rows = cells(page, "table-crashes")
    assert [row[:5] for row in rows] == [
        [
            c["signature"],
            c["exception"],
            f"{c['installs']:,}",
            f"{c['events']:,}",
            ", ".join(c["versions"]) or "—",
        ]
        for c in crashes
    ]
    stacks = page.evaluate(
        "Array.from(document.querySelectorAll('#table-crashes pre')).map((p) => p.textContent)"
    )
    assert stacks == ["\n".join(c["stack"]) for c in crashes if c["stack"]]


def test_dashboard_in_chromium(collector: str, tmp_path: Path) -> None:
    chromium = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    host = urllib.parse.urlsplit(collector).netloc
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: errors.append(str(error)))

            # Log in with the admin token.
            page.goto(collector + "/")
            page.fill("#token", "not the token")
            page.click("button[type=submit]")
            assert "not the admin token" in page.inner_text("#login-error")
            # The only console error allowed: the browser's note of that 401.
            assert errors == [UNAUTHORIZED]
            errors.clear()
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            loaded = wait_loaded(page)

            # Every chart is drawn, with data, by the shipped Chart.js.
            charts = {c["id"]: c for c in page.evaluate(CHART_STATE)}
            assert sorted(charts) == sorted(f"chart-{name}" for name in CHARTS)
            for name, chart in charts.items():
                assert chart["type"] is not None, name
                assert chart["points"] > 0, chart
                assert chart["painted"] > 500, chart
            assert charts["chart-installs"]["labels"] == 30

            # The numbers are the API's.
            month = api(collector, "overview", days="30")
            assert kpi(page, "range") == f"{month['installs']['range']:,}"
            assert kpi(page, "events") == f"{month['events']:,}"
            rows = page.locator("#table-versions tbody tr")
            assert rows.count() == len(api(collector, "versions", days="30")["rows"])
            history = httpx.get(f"{collector}/api/v1/alerts", headers=AUTH, timeout=10).json()
            alerts = page.locator("#table-alerts tbody tr").all_inner_texts()
            assert len(alerts) == len(history["alerts"]) == 1
            assert all(
                text in alerts[0] for text in ("new-crashes (new)", "ops: pending", "KeyError")
            )
            check_adoption(page, api(collector, "adoption", days="30"))
            check_release_health(page, api(collector, "release_health", days="30"))
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            (REPO / "test-output").mkdir(exist_ok=True)
            shutil.copyfile(tmp_path / "dashboard.png", REPO / "test-output" / "dashboard.png")

            # A shorter range: fewer days, fewer installs (a third stopped reporting).
            page.click(".range[data-days='7']")
            loaded = wait_loaded(page, loaded)
            week = api(collector, "overview", days="7")
            assert week["installs"]["range"] < month["installs"]["range"]
            assert kpi(page, "range") == f"{week['installs']['range']:,}"
            assert kpi(page, "events") == f"{week['events']:,}"
            state = {c["id"]: c for c in page.evaluate(CHART_STATE)}
            assert state["chart-installs"]["labels"] == 7

            # An explicit from/to range.
            today = today_utc()
            first, last = day_to_iso(today - 20), day_to_iso(today - 10)
            page.fill("#from", first)
            page.fill("#to", last)
            page.click("#apply")
            loaded = wait_loaded(page, loaded)
            picked = api(collector, "overview", **{"from": first, "to": last})
            assert kpi(page, "events") == f"{picked['events']:,}"
            state = {c["id"]: c for c in page.evaluate(CHART_STATE)}
            assert state["chart-installs"]["labels"] == 11

            # One app.
            page.click(".range[data-days='90']")
            loaded = wait_loaded(page, loaded)
            page.select_option("#app", "labelbox")
            loaded = wait_loaded(page, loaded)
            small = api(collector, "overview", days="90", app="labelbox")
            assert kpi(page, "range") == f"{small['installs']['range']:,}"
            assert small["installs"]["range"] == 12

            # Sign out: back to the login form, and the API refuses the page.
            page.click("#logout")
            page.wait_for_selector("#token")
            status = page.evaluate("fetch('/api/v1/stats/overview').then((r) => r.status)")
            assert status == 401
            assert errors == [UNAUTHORIZED]
            errors.clear()
        finally:
            browser.close()

    assert requests, "no request was recorded"
    foreign = [url for url in requests if urllib.parse.urlsplit(url).netloc != host]
    assert foreign == [], foreign
    assert errors == [], errors
