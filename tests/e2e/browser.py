"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium with both paths given, so nothing ever downloads a browser or a driver.

Absent (no browser, no driver, no selenium): the test skips, or fails under
``WXAPUSH_REQUIRE_SERVICES=1`` (``.ci/run`` installs them first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WXAPUSH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WXAPUSH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1900",
)
#: Where screenshots go besides the test's tmp dir: kept after the run, ignored by git.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _missing(reason: str) -> None:
    if os.environ.get("WXAPUSH_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium(profile: Path, lang: str = "en-US", script: bool = True) -> Iterator[Any]:
    """A headless Chromium with a fresh profile under ``profile``; closed afterwards.

    ``lang``: the languages the browser prefers (``--lang`` and its Accept-Language,
    e.g. ``zh-CN,zh``); ``script=False`` turns JavaScript off."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            _missing(f"{path} is missing: apt-get install {package} (as .ci/run does)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--lang={lang.split(',')[0]}"):
        options.add_argument(flag)
    prefs: dict[str, Any] = {"intl.accept_languages": lang}
    if not script:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """A full-window PNG in the test's tmp dir, copied to ``test-artifacts/``."""
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "the screenshot was not written"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(shot.read_bytes())
    return shot
