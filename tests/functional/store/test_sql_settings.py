"""A malformed SQL store URL is ``misconfigured`` (990501) naming the setting, never retryable
(issue 19, finding 8): the driver's refusal is a setting's fault, found before connecting."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Invoke, send_event


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("mysql://root@127.0.0.1:3306/test?charset=bogus", "pymysql"),
        ("mysql://root@127.0.0.1:3306/test?nosuch=1", "pymysql"),
        ("postgresql://postgres@127.0.0.1:5432/test?nosuchoption=1", "psycopg"),
    ],
)
def test_a_malformed_sql_url_is_misconfigured_naming_the_setting(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, url: str, driver: str
) -> None:
    pytest.importorskip(driver)
    monkeypatch.setenv("WXAPUSH_STORE", url)
    result = invoke("send", send_event())
    assert (result["error"], result["errcode"], result["retryable"]) == (
        "misconfigured",
        990501,
        False,
    ), result
    assert "WXAPUSH_STORE" in result["errmsg"]
