"""The demo app seeded at start and after every reset, so ``wxemu serve`` is usable at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import Emulator

APPID = "wx5e7a1c0de0d3e4f1"
SECRET = "0d3e4f15e7a1c0de0d3e4f15e7a1c0de"
OPENID = "oWxEmu-DemoUser-0000000000A1"
TEMPLATE_ID = "WxEmuDemo-OrderShipped-00000000000000000001"
LONG_TERM_TEMPLATE_ID = "WxEmuDemo-DeviceStatus-00000000000000000002"
GRANTS = 1000

# Observed id formats: openids are 28 characters, template ids 43.
assert len(OPENID) == 28 and len(TEMPLATE_ID) == 43 and len(LONG_TERM_TEMPLATE_ID) == 43

_SHIPPED = (
    "商品名称:{{thing1.DATA}}\n快递单号:{{character_string2.DATA}}\n"
    "发货时间:{{date3.DATA}}\n订单金额:{{amount6.DATA}}\n"
)
_SHIPPED_EXAMPLE = (
    "商品名称:手机保护壳\n快递单号:SF1234567890\n发货时间:2024年5月20日 10:30\n订单金额:¥128.00\n"
)
_DEVICE = "完成时间:{{time1.DATA}}\n所在位置:{{enum_string2.DATA}}\n设备名称:{{thing4.DATA}}\n"
_DEVICE_EXAMPLE = "完成时间:2024年5月20日 12:00:00\n所在位置:客厅\n设备名称:洗衣机\n"


def seed(emulator: Emulator) -> None:
    """Create the demo app: one one-time and one long-term template, the demo user granted both."""
    emulator.add_app(APPID, SECRET)
    emulator.add_template(
        APPID, "订单发货通知", _SHIPPED, 2, example=_SHIPPED_EXAMPLE, pri_tmpl_id=TEMPLATE_ID
    )
    emulator.add_template(
        APPID,
        "设备状态提醒",
        _DEVICE,
        3,
        enum_values={"enum_string2": ["客厅", "餐厅", "厨房", "卧室", "阳台"]},
        example=_DEVICE_EXAMPLE,
        pri_tmpl_id=LONG_TERM_TEMPLATE_ID,
    )
    emulator.grant(APPID, OPENID, TEMPLATE_ID, GRANTS)
    emulator.grant(APPID, OPENID, LONG_TERM_TEMPLATE_ID, 1)


def describe() -> dict[str, Any]:
    """The demo app as the CLI prints it and ``GET /__wxemu__/demo`` answers."""
    return {
        "appid": APPID,
        "secret": SECRET,
        "openid": OPENID,
        "template_id": TEMPLATE_ID,
        "long_term_template_id": LONG_TERM_TEMPLATE_ID,
        "grants": GRANTS,
    }
