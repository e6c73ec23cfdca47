"""A failed statement never quotes its values (tokens, openids, message data), and a store URL's
password never surfaces, however it is written."""

from __future__ import annotations

import traceback
import uuid

import pytest

from wxapush.config import load_settings
from wxapush.errors import redact
from wxapush.store import TokenRecord, open_store

TOKEN = "ACCESS-TOKEN-never-logged-81c2f0"


@pytest.mark.parametrize("server", ["postgres_url", "mysql_url"])
def test_a_failed_token_write_does_not_quote_the_token(
    request: pytest.FixtureRequest, server: str
) -> None:
    url = request.getfixturevalue(server)
    prefix = "tnoval" + uuid.uuid4().hex[:8]  # its own: parallel runs share the servers
    store = open_store(f"{url}?prefix={prefix}")
    try:
        # A NUL (PostgreSQL) or an overlong key (MySQL): the driver refuses the statement.
        key = "k\x00" if server == "postgres_url" else "k" * 400
        with pytest.raises(Exception) as caught:
            store.tokens.put_token(key, TokenRecord(TOKEN + "\x00", 1e10, 1.0))
        text = "".join(traceback.format_exception(caught.value))
        assert "hidden" in text or "parameters" not in text
        assert TOKEN not in text
    finally:
        from tests.functional.store import _namespaces

        store.close()
        _namespaces.drop_sql(url, prefix)


def test_a_mysql_password_with_an_unescaped_at_never_leaks(mysql_url: str) -> None:
    password = "p@ss/w0rd@tail-secret"
    url = mysql_url.replace("root@", f"root:{password}@", 1)
    with pytest.raises(Exception) as caught:
        open_store(url)
    text = "".join(traceback.format_exception(caught.value))
    assert "tail-secret" not in text and "w0rd" not in text, text
    # The settings know the password as written, so a log line quoting it is masked too.
    settings = load_settings(
        {"WXAPUSH_APPID": "wx1", "WXAPUSH_APPSECRET": "s", "WXAPUSH_STORE": url}
    )
    assert password in settings.secrets()
    masked = redact(f"connect to {url} failed; the password was {password}", *settings.secrets())
    assert "w0rd" not in masked and "tail-secret" not in masked
