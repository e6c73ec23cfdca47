"""The dashboard in a real browser: `wxapush dev`, a few sends, then headless Chromium signs in,
reads the counts and the chart, filters the log, finds a hostile data value shown as text, and
signs out. A screenshot is kept as an artifact (the test's tmp dir and ``test-artifacts/``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
import requests

from tests.e2e.browser import chromium, save_screenshot
from tests.e2e.test_dev_stack import banner  # noqa: F401  (the running stack)

HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
SEND_PATH = "/cgi-bin/message/subscribe/send"
#: Counts every alert (or confirm/prompt) the page might be tricked into opening.
TRAP = """
window.__alerts = [];
['alert', 'confirm', 'prompt'].forEach(function (name) {
  window[name] = function (m) { window.__alerts.push(String(m)); };
});
"""


def _wait(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class Stack:
    def __init__(self, text: str) -> None:
        gateway = re.search(r"functions\s+(http://\S+)/<function>", text)
        key = re.search(r"admin key\s+(\S+)", text)
        wxemu = re.search(r"wxemu\s+(http://\S+)", text)
        body = re.search(r"-d '(\{.*\})'", text)
        assert gateway and key and wxemu and body, text
        self.url, self.key, self.wxemu = gateway[1], key[1], wxemu[1]
        self.body = json.loads(body[1])
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def send(self, key: str, **data: str) -> Dict[str, Any]:
        payload = {**self.body, "idempotency_key": key, "data": {**self.body["data"], **data}}
        answer = requests.post(f"{self.url}/send", json=payload, headers=self.headers, timeout=10)
        result: Dict[str, Any] = answer.json()
        return result

    def log(self) -> Dict[str, Any]:
        today = datetime.now(timezone(timedelta(hours=8))).date()
        begin = (today - timedelta(days=1)).isoformat()  # a send just before midnight
        params = {"begin_date": begin, "end_date": today.isoformat(), "count": "100"}
        answer = requests.get(
            f"{self.url}/send_log", params=params, headers=self.headers, timeout=10
        )
        result: Dict[str, Any] = answer.json()
        return result


def _seed(stack: Stack) -> Counter[str]:
    """Three delivered, one refused by WeChat (43101), one refused locally (the hostile value)."""
    for i in range(3):
        assert stack.send(f"browser-ok-{i}")["errcode"] == 0
    fault = {"path": SEND_PATH, "errcode": 43101, "times": 1}
    requests.post(f"{stack.wxemu}/__wxemu__/faults", json=fault, timeout=10).raise_for_status()
    assert stack.send("browser-refused")["errcode"] == 43101
    hostile = stack.send("browser-hostile", thing1=HOSTILE, character_string2=SCRIPT)
    assert hostile["errcode"] == 47003, hostile

    def mine() -> list[Dict[str, Any]]:  # the demo user's: a test may have seeded others
        return [m for m in stack.log()["list"] if m["touser"] == stack.body["touser"]]

    assert _wait(lambda: all(m["status"] != "sent" for m in mine())), mine()  # wxemu pushes
    statuses = Counter(m["status"] for m in mine())
    assert statuses == {"delivered": 3, "failed": 1, "rejected": 1}, statuses
    return statuses


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, css)
    return str(found[0].text) if found else ""


def test_sign_in_see_counts_and_chart_filter_xss_and_sign_out(
    banner: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stack = Stack(banner)
    expected = _seed(stack)
    with chromium(tmp_path / "profile") as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAP})
        driver.get(f"{stack.url}/dashboard")
        assert driver.current_url.endswith("/dashboard/")  # the redirect to the folder
        assert _wait(lambda: driver.find_element(By.ID, "key").is_displayed())

        # a wrong key is refused on the page
        driver.find_element(By.ID, "key").send_keys("not-the-key")
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
        assert _wait(lambda: "not valid" in _text(driver, "#sign-in-error"))

        driver.find_element(By.ID, "key").send_keys(stack.key)
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
        for status in ("delivered", "failed", "rejected", "sent", "pending"):
            want = str(expected.get(status, 0))
            assert _wait(lambda s=status, w=want: _text(driver, f'[data-status="{s}"]') == w), (
                status,
                _text(driver, f'[data-status="{status}"]'),
            )
        assert stack.key not in driver.current_url
        storage = driver.execute_script(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie"
        )
        assert stack.key not in storage and "wxapush_dashboard" not in storage  # HttpOnly

        # the chart: one group per day of the period; today's bars add up to today's messages
        days = driver.find_elements(By.CSS_SELECTOR, "#chart-days svg g.day")
        assert len(days) == 7
        assert days[-1].get_attribute("data-total") == str(sum(expected.values()))
        bars = days[-1].find_elements(By.CSS_SELECTOR, "rect")
        assert {b.get_attribute("data-series"): b.get_attribute("data-count") for b in bars} == {
            s: str(n) for s, n in expected.items()
        }
        assert driver.find_elements(By.CSS_SELECTOR, "#chart-rate svg circle.rate-dot")
        assert "43101" in _text(driver, "#errcodes")

        # the hostile value is text: shown literally, no element made, nothing run
        assert _wait(lambda: HOSTILE in _text(driver, "#log tbody"))
        assert SCRIPT in _text(driver, "#log tbody")
        assert not driver.find_elements(By.CSS_SELECTOR, "#log img, #dashboard img")
        assert not driver.find_elements(By.CSS_SELECTOR, "body script:not([src])")
        assert driver.execute_script("return window.__alerts") == []
        save_screenshot(driver, tmp_path, "dashboard.png")

        # an errcode's link filters the log to it
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#errcodes tbody tr")
                   if r.text.startswith("43101"))  # fmt: skip
        row.find_element(By.TAG_NAME, "a").click()
        assert _wait(lambda: _text(driver, "#page-label") == "1–1 of 1")
        assert driver.find_element(By.ID, "filter-errcode").get_attribute("value") == "43101"
        driver.find_element(By.ID, "filter-clear").click()
        assert _wait(lambda: _text(driver, "#page-label").endswith(f"of {sum(expected.values())}"))

        # filter the log by status
        Select(driver.find_element(By.ID, "filter-status")).select_by_value("failed")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        assert _wait(lambda: _text(driver, "#page-label") == "1–1 of 1")
        rows = driver.find_elements(By.CSS_SELECTOR, "#log tbody tr")
        assert len(rows) == 1 and "43101" in rows[0].text

        # a user's history: the log narrowed to the openid, and the subscriptions left
        driver.find_element(By.ID, "user-openid").send_keys(stack.body["touser"])
        driver.find_element(By.CSS_SELECTOR, "#user-form button").click()
        everyone = sum(expected.values())
        assert _wait(lambda: _text(driver, "#page-label") == f"1–{everyone} of {everyone}")
        assert _wait(lambda: "Subscriptions left" in _text(driver, "#user-grants"))
        assert (
            driver.find_element(By.ID, "filter-openid").get_attribute("value")
            == (stack.body["touser"])
        )

        # sign out: the page asks for the key again and the API refuses the old cookie
        driver.find_element(By.ID, "sign-out").click()
        assert _wait(lambda: driver.find_element(By.ID, "key").is_displayed())
        status = driver.execute_async_script(
            "var done = arguments[0];"
            "fetch('api/summary', {credentials: 'same-origin'}).then(r => done(r.status));"
        )
        assert status == 401

        # the page never tripped its own Content-Security-Policy
        logs = driver.get_log("browser")
        violations = [e for e in logs if "Content Security Policy" in e.get("message", "")]
        assert violations == [], violations
        assert driver.execute_script("return window.__alerts") == []


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests and chromium talk to 127.0.0.1 only
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def _seed_week(store_url: str) -> Dict[str, int]:
    """A week of the demo app's log, written to the dev store: per day a different mix."""
    import random

    from wxapush.store import LogRecord, new_log_id, open_store
    from wxemu import demo

    rng = random.Random(13)
    templates = (demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID)
    outcomes = [("delivered", 0)] * 14 + [("sent", 0), ("undelivered", 10001)] + [
        ("failed", 43101), ("failed", 43101), ("failed", 45009), ("rejected", 47003)
    ]  # fmt: skip
    per_day: Dict[str, int] = {}
    store = open_store(store_url)
    try:
        now = time.time()
        for days_ago in range(1, 7):
            for _ in range(rng.randrange(20, 60)):
                status, errcode = rng.choice(outcomes)
                at = now - days_ago * 86_400 + rng.uniform(-3600, 3600)
                record = LogRecord(
                    log_id=new_log_id(), appid=demo.APPID,
                    touser=f"oWxEmu-User-{rng.randrange(1000):04d}-0000000000"[:28],
                    template_id=rng.choice(templates), page="pages/order/detail?id=42",
                    data={"thing1": {"value": "手机保护壳"}, "amount6": {"value": "¥128.00"}},
                    miniprogram_state="formal", lang="zh_CN", status=status, created_at=at,
                    updated_at=at, errcode=errcode, errmsg="ok" if not errcode else "refused",
                )  # fmt: skip
                store.log.claim(record)
                day = datetime.fromtimestamp(at, timezone(timedelta(hours=8))).date()
                per_day[day.isoformat()] = per_day.get(day.isoformat(), 0) + 1
    finally:
        store.close()
    return per_day


def _seed_recent(store_url: str, count: int) -> None:
    """``count`` delivered records of the last minutes, written to the dev store."""
    from wxapush.store import LogRecord, new_log_id, open_store
    from wxemu import demo

    store = open_store(store_url)
    try:
        now = time.time()
        for i in range(count):
            at = now - 60 - i * 0.1
            store.log.claim(
                LogRecord(
                    log_id=new_log_id(), appid=demo.APPID, touser=demo.OPENID,
                    template_id=demo.TEMPLATE_ID, page=None, data={"thing1": {"value": "x"}},
                    miniprogram_state="formal", lang="zh_CN", status="delivered",
                    created_at=at, updated_at=at, errcode=0, errmsg="ok",
                )
            )  # fmt: skip
    finally:
        store.close()


def test_a_week_of_demo_data_draws_a_bar_per_day(
    banner: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    stack = Stack(banner)
    per_day = _seed_week(f"sqlite:///{tmp_path / '.wxapush' / 'dev.db'}")
    _seed(stack)  # and today's five sends, through the stack
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{stack.url}/dashboard/")
        assert _wait(lambda: driver.find_element(By.ID, "key").is_displayed())
        driver.find_element(By.ID, "key").send_keys(stack.key)
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
        assert _wait(lambda: _text(driver, '[data-status="delivered"]') not in ("", "0"))
        days = driver.find_elements(By.CSS_SELECTOR, "#chart-days svg g.day")
        drawn = {d.get_attribute("data-day"): int(d.get_attribute("data-total")) for d in days}
        assert len(drawn) == 7
        recent = {d.get_attribute("data-day") for d in days[-2:]}  # the stack's sends: here
        for day, count in per_day.items():
            if day in drawn and day not in recent:  # (the period's first day may lose an hour)
                assert drawn[day] == count, (day, drawn)
        in_period = sum(n for day, n in per_day.items() if day in drawn)
        assert sum(drawn.values()) == in_period + 5  # and today's five
        total = sum(
            int(_text(driver, f'#totals [data-status="{s}"]') or 0)
            for s in ("pending", "sent", "delivered", "undelivered", "failed", "rejected")
        )
        assert total == sum(drawn.values())
        driver.execute_script("window.scrollTo(0, 0)")
        save_screenshot(driver, tmp_path, "dashboard-week.png")

        # past 500 records in the period the log's total stops counting: "500+", paging on
        _seed_recent(f"sqlite:///{tmp_path / '.wxapush' / 'dev.db'}", 500)
        driver.refresh()
        assert _wait(lambda: _text(driver, "#page-label").endswith(" of 500+"))
        assert _text(driver, "#page-label").startswith("1–20 ")
        assert driver.find_element(By.ID, "page-next").is_enabled()
