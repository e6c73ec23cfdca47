"""GrantLedger and TemplateRegistry conformance."""

from __future__ import annotations

import pytest

from wxapush.store import Store, TemplateInfo

APP, USER, TPL = "wx0123456789abcdef", "oUser1", "TPL_A"


def test_balance_of_a_key_never_recorded_is_none(store: Store) -> None:
    assert store.grants.balance(APP, USER, TPL) is None
    assert store.grants.consume(APP, USER, TPL) is False
    assert store.grants.balance(APP, USER, TPL) is None


def test_grant_adds_and_consume_takes_one_at_a_time(store: Store) -> None:
    assert store.grants.grant(APP, USER, TPL) == 1
    assert store.grants.grant(APP, USER, TPL, count=3) == 4
    assert [store.grants.consume(APP, USER, TPL) for _ in range(5)] == [True] * 4 + [False]
    assert store.grants.balance(APP, USER, TPL) == 0
    assert store.grants.grant(APP, USER, TPL) == 1


def test_revoke_zeroes_and_records(store: Store) -> None:
    store.grants.grant(APP, USER, TPL, count=5)
    store.grants.revoke(APP, USER, TPL)
    assert store.grants.balance(APP, USER, TPL) == 0
    assert store.grants.consume(APP, USER, TPL) is False
    store.grants.revoke(APP, "oNever", TPL)
    assert store.grants.balance(APP, "oNever", TPL) == 0  # a known refusal, not "unknown"


def test_grant_keys_are_independent(store: Store) -> None:
    store.grants.grant(APP, USER, TPL, count=2)
    for other in ((APP, USER, "TPL_B"), (APP, "oUser2", TPL), ("wxother", USER, TPL)):
        assert store.grants.balance(*other) is None
        assert store.grants.consume(*other) is False
    assert store.grants.balance(APP, USER, TPL) == 2


@pytest.mark.parametrize("count", [0, -1])
def test_grant_refuses_a_non_positive_count(store: Store, count: int) -> None:
    with pytest.raises(ValueError):
        store.grants.grant(APP, USER, TPL, count=count)


ORDER = TemplateInfo(
    template_id="TPL_ORDER",
    title="订单发货提醒",
    type=2,
    keywords=(("thing1", "thing"), ("date2", "date"), ("phrase3", "phrase")),
    enum_values={"phrase3": ("已发货", "已签收")},
    content="商品:{{thing1.DATA}}\n时间:{{date2.DATA}}\n状态:{{phrase3.DATA}}",
)
NOTICE = TemplateInfo(
    template_id="TPL_NOTICE", title="通知", type=3, keywords=(("thing1", "thing"),), enum_values={}
)


def test_registry_starts_empty(store: Store) -> None:
    assert store.templates.get_template(APP, ORDER.template_id) is None
    assert store.templates.list_templates(APP) == []
    assert store.templates.synced_at(APP) is None


def test_replace_then_get_and_list_in_order(store: Store) -> None:
    store.templates.replace_templates(APP, [ORDER, NOTICE], synced_at=1_700_000_000.5)
    assert store.templates.get_template(APP, ORDER.template_id) == ORDER
    assert store.templates.get_template(APP, NOTICE.template_id) == NOTICE
    assert store.templates.list_templates(APP) == [ORDER, NOTICE]
    assert store.templates.synced_at(APP) == 1_700_000_000.5
    got = store.templates.get_template(APP, ORDER.template_id)
    assert got is not None and isinstance(got.keywords, tuple)
    assert got.enum_values["phrase3"] == ("已发货", "已签收")


def test_replace_swaps_the_whole_set_of_one_app(store: Store) -> None:
    store.templates.replace_templates(APP, [ORDER, NOTICE], synced_at=1.0)
    store.templates.replace_templates("wxother", [ORDER], synced_at=2.0)
    store.templates.replace_templates(APP, [NOTICE], synced_at=3.0)
    assert store.templates.list_templates(APP) == [NOTICE]
    assert store.templates.get_template(APP, ORDER.template_id) is None
    assert store.templates.list_templates("wxother") == [ORDER]
    assert (store.templates.synced_at(APP), store.templates.synced_at("wxother")) == (3.0, 2.0)
    store.templates.replace_templates(APP, [], synced_at=4.0)
    assert store.templates.list_templates(APP) == []
    assert store.templates.synced_at(APP) == 4.0
