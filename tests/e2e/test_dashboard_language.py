"""The dashboard speaks Chinese first: a browser preferring Chinese gets Chinese, the switch
gives English (and is remembered), and the sign-in works in a browser with script off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.browser import chromium
from tests.e2e.test_dashboard_browser import Stack, _text, _wait
from tests.e2e.test_dev_stack import banner  # noqa: F401  (the running stack)


def _lang(driver: Any) -> str:
    return str(driver.execute_script("return document.documentElement.lang"))


def test_a_browser_preferring_chinese_gets_chinese_and_the_switch_gives_english(
    banner: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    stack = Stack(banner)
    assert stack.send("language-1")["errcode"] == 0
    with chromium(tmp_path / "profile", lang="zh-CN,zh") as driver:
        driver.get(f"{stack.url}/dashboard/")
        assert _wait(lambda: driver.find_element(By.ID, "key").is_displayed())
        assert driver.execute_script("return navigator.language").startswith("zh")
        assert _lang(driver) == "zh-CN" and "发送记录" in driver.title
        assert _text(driver, "#sign-in h2") == "登录"
        driver.find_element(By.ID, "key").send_keys(stack.key)
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
        assert _wait(lambda: _text(driver, '[data-status="sent"]') not in ("", "0")
                     or _text(driver, '[data-status="delivered"]') not in ("", "0"))  # fmt: skip
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#totals .label")]
        assert "已送达" in labels and "delivered" not in labels, labels
        assert _text(driver, "#dashboard section h2") == "总计"
        assert _wait(lambda: "共" in _text(driver, "#page-label"))

        driver.find_element(By.ID, "lang-switch").click()  # the switch: English
        assert _wait(lambda: _text(driver, "#dashboard section h2") == "Totals")
        assert _lang(driver) == "en" and _text(driver, "#lang-switch") == "中文"
        assert _wait(lambda: " of " in _text(driver, "#page-label"))
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#totals .label")]
        assert "delivered" in labels, labels
        driver.refresh()  # the choice is remembered
        assert _wait(lambda: _text(driver, "#dashboard section h2") == "Totals")


def test_a_browser_preferring_english_gets_english(
    banner: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    stack = Stack(banner)
    with chromium(tmp_path / "profile", lang="en-GB,en") as driver:
        driver.get(f"{stack.url}/dashboard/")
        assert _wait(lambda: driver.find_element(By.ID, "key").is_displayed())
        assert _lang(driver) == "en" and _text(driver, "#sign-in h2") == "Sign in"
        assert _text(driver, "#lang-switch") == "中文"


def test_the_sign_in_works_with_script_off(
    banner: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    stack = Stack(banner)
    with chromium(tmp_path / "profile", lang="zh-CN,zh", script=False) as driver:
        driver.get(f"{stack.url}/dashboard/")
        form = driver.find_element(By.CSS_SELECTOR, "#sign-in-no-script form")
        assert form.is_displayed()
        assert "登录" in _text(driver, "#sign-in-no-script h2")
        form.find_element(By.NAME, "key").send_keys(stack.key)
        form.find_element(By.CSS_SELECTOR, "button").click()

        def signed_in() -> bool:  # the session cookie is set
            return any(c["name"] == "wxapush_dashboard" for c in driver.get_cookies())

        assert _wait(signed_in), driver.page_source[:2000]
        assert driver.current_url.endswith("/dashboard/")  # back on the page
        assert stack.key not in driver.current_url
        assert "JavaScript" in _text(driver, "#sign-in-no-script")
