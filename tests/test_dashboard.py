"""optuna-dashboard shows our studies: a real server on SQLite and PostgreSQL, read by headless
Chromium.

The studies are written with the optuna API directly, shaped like ours (a screen with architecture /
repeat params, two optimization studies with pruned trials), so this checks the storage and the
dashboard, not training. optuna-dashboard 0.21 is a React app: the study list (/dashboard) shows
each study as a card "<id>. <name>"; a study's trial list (/dashboard/studies/<id>/trials) is headed
"<n> Trials" and shows one item per trial with its state ("Complete", "Pruned").
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from services import CHROMEDRIVER, CHROMIUM, optuna_dashboard_command, require_or_skip

# name -> (complete, pruned) trials
STUDIES = {"demo-screen": (5, 0), "demo-conv": (3, 2), "demo-vqvae2": (2, 4)}
ARCHITECTURES = ("conv", "dense", "depthwise", "vqvae2", "dual")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
SERVER_START_S = 30  # optuna-dashboard answers in ~1 s here; leave room for a busy CI machine
RENDER_S = 20  # the React app fetches the studies, then renders


def fill_storage(url: str) -> dict[str, int]:
    """Write the STUDIES into the storage at `url`; return their study ids (used in page URLs)."""
    storage = optuna.storages.RDBStorage(url)
    screen = optuna.create_study(study_name="demo-screen", storage=storage)
    n_complete, _ = STUDIES["demo-screen"]
    for repeat in range(n_complete):
        trial = screen.ask(
            {
                "architecture": optuna.distributions.CategoricalDistribution(ARCHITECTURES),
                "repeat": optuna.distributions.IntDistribution(0, 4),
            }
        )
        for epoch in range(3):
            trial.report(1.0 / (epoch + 1 + repeat), step=epoch)
        screen.tell(trial, 0.1 * (repeat + 1))
    for name in ("demo-conv", "demo-vqvae2"):
        study = optuna.create_study(study_name=name, storage=storage)
        n_complete, n_pruned = STUDIES[name]
        for number in range(n_complete + n_pruned):
            trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)})
            trial.report(0.5, step=0)
            if number < n_complete:
                study.tell(trial, 0.3 + 0.01 * number)
            else:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    ids = {name: storage.get_study_id_from_name(name) for name in STUDIES}
    storage.engine.dispose()  # the dashboard is the only reader from here on
    return ids


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dashboard.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def dashboard(storage_url, tmp_path):
    """(base URL, study ids) of an optuna-dashboard serving the filled storage; always stopped."""
    ids = fill_storage(storage_url)
    port = _free_port()
    log = (tmp_path / "dashboard.log").open("w")
    server = subprocess.Popen(
        [*optuna_dashboard_command(), storage_url, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_S
        while not _answers(f"{base}/api/studies"):
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"optuna-dashboard did not answer on {base} within {SERVER_START_S} s "
                    f"(exit code {server.poll()}):\n{(tmp_path / 'dashboard.log').read_text()}"
                )
            time.sleep(0.2)
        yield base, ids
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium driven by Selenium through Debian's chromedriver."""
    require_or_skip(
        importlib.util.find_spec("selenium") is not None,
        "selenium is not installed (pip install -e '.[test]')",
    )
    require_or_skip(
        Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(),
        f"no Chromium / ChromeDriver at {CHROMIUM} / {CHROMEDRIVER} "
        f"(apt-get install chromium chromium-driver)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # A given chromedriver path means Selenium Manager is never asked to download one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(RENDER_S)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver, condition, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, RENDER_S, poll_frequency=0.1).until(condition)
    except TimeoutException:
        text = driver.find_element("tag name", "body").text
        pytest.fail(
            f"the dashboard at {driver.current_url} did not show {what} within {RENDER_S} s; "
            f"it showed:\n{text[:2000]}"
        )


def _trial_states(driver, n_trials: int) -> list[str] | None:
    """The state chip of each item in the trial list headed "<n_trials> Trials", once all are
    there."""
    items = driver.find_elements(
        "xpath", f"//ul[.//p[normalize-space()='{n_trials} Trials']]//li[.//*[@role='button']]"
    )
    if len(items) != n_trials:
        return None
    return [
        chip.text
        for item in items
        for chip in item.find_elements("xpath", ".//span[contains(@class, 'MuiChip-label')]")
        if chip.text in ("Complete", "Pruned", "Fail", "Running", "Waiting")
    ]


def test_dashboard_lists_each_study_with_its_trials(dashboard, browser, tmp_path):
    base, ids = dashboard

    browser.get(f"{base}/dashboard")
    cards = {name: f"{ids[name]}. {name}" for name in STUDIES}
    _wait_for(
        browser,
        lambda d: all(card in d.find_element("tag name", "body").text for card in cards.values()),
        f"the study cards {sorted(cards.values())}",
    )
    screenshot = tmp_path / "studies.png"
    assert browser.save_screenshot(str(screenshot))
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # IHDR
    assert width > 0 and height > 0

    for name, (n_complete, n_pruned) in STUDIES.items():
        n_trials = n_complete + n_pruned
        browser.get(f"{base}/dashboard/studies/{ids[name]}/trials")
        _wait_for(
            browser,
            lambda d, title=f"{name} (id={ids[name]})": (
                title in d.find_element("tag name", "body").text
            ),
            f"the title of study {name!r}",
        )
        states = _wait_for(
            browser,
            lambda d, n_trials=n_trials: _trial_states(d, n_trials),
            f"a list of {n_trials} trials for {name!r}",
        )
        assert sorted(states) == sorted(["Complete"] * n_complete + ["Pruned"] * n_pruned), name

    # The selected first trial of the screen shows our parameter names and intermediate values.
    browser.get(f"{base}/dashboard/studies/{ids['demo-screen']}/trials")
    _wait_for(
        browser,
        lambda d: all(
            word in d.find_element("tag name", "body").text
            for word in ("architecture", "repeat", "Intermediate Values")
        ),
        "the params and intermediate values of trial 0 of 'demo-screen'",
    )
