"""Keyword value rules: every example of the reference, and each limit.

Section numbers (§) refer to the project's fact sheet on WeChat's API, kept outside the
repository; each fact is also in WeChat's docs linked from wxapush.wechat.keywords.
"""

from __future__ import annotations

import dataclasses

import pytest

from wxapush.wechat.keywords import (
    EMPTY,
    INVALID,
    KNOWN_TYPES,
    KeywordProblem,
    check_data,
    check_value,
    keyword_type,
    parse_template_content,
)

# The official getTemplateList sample (§5), values as WeChat returns them.
SAMPLE_TEMPLATES: list[dict[str, object]] = [
    {
        "priTmplId": "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU",
        "title": "报名结果通知",
        "content": "会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n",
        "example": "会议时间:2016年8月8日\n会议地点:TIT会议室\n",
        "type": 2,
    },
    {
        "priTmplId": "cy_DfOZL7lypxHh3ja3DyAUbn1GYQRGwezuy5LBTFME",
        "title": "洗衣机故障提醒",
        "content": "完成时间:{{time1.DATA}}\n所在位置:{{enum_string2.DATA}}\n"
        "提示说明:{{enum_string3.DATA}}\n",
        "example": "完成时间:2021年10月21日 12:00:00\n所在位置:客厅\n"
        "提示说明:设备发生故障，导致工作异常，请及时查看\n",
        "keywordEnumValueList": [
            {"enumValueList": ["客厅", "餐厅", "厨房"], "keywordCode": "enum_string2.DATA"},
            {
                "enumValueList": ["设备发生故障，导致工作异常，请及时查看"],
                "keywordCode": "enum_string3.DATA",
            },
        ],
        "type": 3,
    },
]


def _ok(kind: str, value: object, enums: list[str] | None = None) -> None:
    assert check_value(kind, value, enums) is None


# --- keyword_type / KNOWN_TYPES -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("thing12", "thing"),
        ("thing1.DATA", "thing"),
        ("character_string3", "character_string"),
        ("enum_string2", "enum_string"),
        ("enum_string2.DATA", "enum_string"),
        ("phone_number10", "phone_number"),
        ("short_thing2", "short_thing"),
        ("number01", "number"),  # the doc's own numbering (§3 notes)
        ("const3", "const"),
        ("thing", "thing"),
        ("mystery7", "mystery"),  # unknown prefixes come back as they are
    ],
)
def test_keyword_type(code: str, kind: str) -> None:
    assert keyword_type(code) == kind


def test_known_types_cover_the_table_and_the_observed_types() -> None:
    table = {"thing", "number", "letter", "symbol", "character_string", "time", "date", "amount"}
    table |= {"phone_number", "car_number", "name", "phrase", "enum"}
    assert table | {"enum_string", "short_thing", "const"} <= KNOWN_TYPES


# --- every example of the §3 table and notes ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("time", "15:01"),
        ("time", "2019年10月1日 15:01"),
        ("date", "2019年10月1日"),
        ("date", "2019年10月1日 15:01"),
        ("time", "15:01:59"),  # HH:MM:SS
        ("date", "2018-01-01"),
        ("date", "2018/01/01"),
        ("date", "2018.01.01"),
        ("date", "2018-01"),
        ("date", "01-01"),
        ("date", "2018年1月"),  # y年m月
        ("date", "10月1日"),  # m月d日
        ("phone_number", "+86-0766-66888866"),
        ("car_number", "粤A8Z888挂"),
        ("phrase", "配送中"),
        ("phrase", "审核通过"),  # §2.1 request example
        ("name", "订阅"),
        ("date", "2019-12-25 09:42"),
        ("amount", "¥100"),
        ("amount", "100.00元"),
        ("amount", "￥8.5元"),
    ],
)
def test_reference_examples_accepted(kind: str, value: str) -> None:
    _ok(kind, value)


# --- every §3.1 observation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("thing", "这" * 20, None),
        ("thing", "这" * 21, INVALID),
        ("date", "2023-2-2", None),
        ("date", "2021-11-12 14:47:49", None),
        ("time", "2025-02-28 09:38:14", None),
        ("time", "2021年10月25日 09:00~09:30", None),
        ("time", "2021年10月25日 09:00～09:30", INVALID),
        ("time", "2022-01-27 15:00-16:00", INVALID),
        ("phrase", "111", INVALID),
    ],
)
def test_observed_answers(kind: str, value: str, reason: str | None) -> None:
    assert check_value(kind, value) == reason


def test_unwrapped_item_is_refused_as_empty() -> None:
    problem = check_data({"character_string4": "123"}, [("character_string4", "character_string")])
    assert problem == KeywordProblem("character_string4", EMPTY)


# --- time and date ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("time", "0:00"),
        ("time", "23:59:59"),
        ("time", "9:05"),
        ("time", "09:00~18:00"),
        ("time", "09:00 ~ 18:00"),
        ("time", "2019年10月1日15:01"),
        ("time", "2019/10/01 08:00~2019/10/02 08:00"),
        ("time", "10-01 08:00"),
        ("date", "2019年10月1日~2019年10月7日"),
        ("date", "2018-01-01~2018-02-01"),
        ("date", "2020-02-29"),
        ("date", "2月29日"),
        ("date", "12.31"),
        ("date", "2019年10月1日 15:01~16:00"),
    ],
)
def test_moments_accepted(kind: str, value: str) -> None:
    _ok(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("time", "24:00"),
        ("time", "12:60"),
        ("time", "12:00:60"),
        ("time", "12:5"),
        ("time", "1501"),
        ("time", "15时01分"),
        ("time", "2019年10月1日"),  # a time keyword needs a time
        ("time", "09:00~"),
        ("time", "09:00~10:00~11:00"),
        ("time", "2021-11-12T14:47:49"),
        ("time", " 15:01"),
        ("date", "15:01"),  # a date keyword needs a date
        ("date", "2018-13-01"),
        ("date", "2018-00-10"),
        ("date", "2018-04-31"),
        ("date", "2019-02-29"),
        ("date", "0000-01-01"),
        ("date", "2018-01/01"),
        ("date", "2018-01-01 "),
        ("date", "2018-01-0115:00"),
        ("date", "2018-01 15:00"),  # a time follows a whole date only
        ("date", "10月"),
        ("date", "2018年"),
        ("date", "18-01-01-01"),
        ("date", "2019年10月1日～2019年10月7日"),
        ("date", "明天"),
        ("date", 20180101),
    ],
)
def test_moments_refused(kind: str, value: object) -> None:
    assert check_value(kind, value) == INVALID


# --- boundary lengths and character sets of every type ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "at_limit", "over_limit"),
    [
        ("thing", "a" * 20, "a" * 21),
        ("thing", "中1a!" * 5, "中1a!" * 5 + "x"),
        ("short_thing", "短" * 5, "短" * 6),
        ("number", "9" * 32, "9" * 33),
        ("number", "1" * 16 + "." + "1" * 16, "1" * 16 + "." + "1" * 17),
        ("letter", "a" * 32, "a" * 33),
        ("symbol", "!@#%&", "!@#%&*"),
        ("character_string", "Ab1-" * 8, "Ab1-" * 8 + "x"),
        ("amount", "¥1234567890", "¥12345678901"),
        ("amount", "¥12345678.90元", "¥123456789.01元"),
        ("phone_number", "1" * 17, "1" * 18),
        ("car_number", "粤AD12345", "粤AD123456"),
        ("car_number", "粤A12345挂", "粤A123456挂"),
        ("name", "张" * 10, "张" * 11),
        ("name", "a" * 20, "a" * 21),
        ("name", "张a" + "b" * 8, "张a" + "b" * 9),  # mixed counts as Chinese
        ("phrase", "五个汉字呀", "六个汉字呀呀"),
        ("const", "c" * 200, "c" * 201),
        ("mystery", "m" * 200, "m" * 201),
        ("enum", "e" * 200, "e" * 201),  # no enum list known: sanity guard only
    ],
)
def test_length_limits(kind: str, at_limit: str, over_limit: str) -> None:
    assert check_value(kind, at_limit) is None
    assert check_value(kind, over_limit) == INVALID


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("thing", "订单A-01，已发货😀", None),
        ("number", "0.5", None),
        ("number", 42, INVALID),  # a JSON number is refused: values are strings (observed)
        ("number", 3.25, INVALID),
        ("number", "-1", INVALID),
        ("number", "+1", INVALID),
        ("number", "1.", INVALID),
        ("number", ".5", INVALID),
        ("number", "1e5", INVALID),
        ("number", 1e20, INVALID),  # its JSON text is 1e+20
        ("number", "1,000", INVALID),
        ("number", "１２", INVALID),  # full-width digits are not digits
        ("letter", "AbC", None),
        ("letter", "abc1", INVALID),
        ("letter", "ab c", INVALID),
        ("letter", "é", INVALID),
        ("symbol", "，。！", None),
        ("symbol", "😀", None),
        ("symbol", "a", INVALID),
        ("symbol", "1", INVALID),
        ("symbol", "中", INVALID),
        ("character_string", "SN-2024/01_x#9", None),
        ("character_string", 12345, INVALID),  # a JSON number: WeChat wants text
        ("character_string", "单号1", INVALID),
        ("amount", "$1.5", None),
        ("amount", "€20", None),
        ("amount", "£3", None),
        ("amount", "100", None),  # no symbol: read as allowed
        ("amount", 99.9, INVALID),  # a JSON number (observed refused)
        ("amount", "100元", None),
        ("amount", "¥¥100", INVALID),
        ("amount", "-¥100", INVALID),
        ("amount", "¥-100", INVALID),
        ("amount", "¥ 100", INVALID),
        ("amount", "¥1,000", INVALID),
        ("amount", "元100", INVALID),
        ("amount", "100.元", INVALID),
        ("amount", "RMB100", INVALID),
        ("amount", "100美元", INVALID),
        ("phone_number", "(0766) 6688-8866", None),
        ("phone_number", "400-FLOWERS", INVALID),
        ("phone_number", "电话12345", INVALID),
        ("car_number", "粤A", None),
        ("car_number", "WJ12345", None),
        ("car_number", "A粤8", INVALID),
        ("car_number", "粤A·8Z888", INVALID),
        ("car_number", "粤A-8Z888", INVALID),
        ("name", "欧阳·娜娜", None),
        ("name", "John Smith", None),
        ("name", "O'Neil", None),
        ("name", "张3", INVALID),
        ("name", "Agent 007", INVALID),
        ("phrase", "配送中！", INVALID),
        ("phrase", "ok", INVALID),
        ("phrase", "配 送", INVALID),
    ],
)
def test_character_sets(kind: str, value: object, reason: str | None) -> None:
    assert check_value(kind, value) == reason


# --- enums --------------------------------------------------------------------------------------

ROOMS = ["客厅", "餐厅", "厨房"]


@pytest.mark.parametrize("kind", ["enum", "enum_string"])
@pytest.mark.parametrize(
    ("value", "allowed", "reason"),
    [
        ("客厅", ROOMS, None),
        ("卧室", ROOMS, INVALID),
        ("客厅 ", ROOMS, INVALID),  # exact match only
        ("客厅", [], INVALID),  # a known empty list allows nothing
        ("卧室", None, None),  # no list known: membership cannot be judged
    ],
)
def test_enum_values(kind: str, value: str, allowed: list[str] | None, reason: str | None) -> None:
    assert check_value(kind, value, allowed) == reason


def test_enum_list_is_ignored_for_other_types() -> None:
    assert check_value("thing", "卧室", ROOMS) is None


# --- empty, control characters and non-string values ---------------------------------------------


@pytest.mark.parametrize("kind", sorted(KNOWN_TYPES | {"mystery"}))
@pytest.mark.parametrize("value", [None, "", " ", "\u3000", "\n", " \t "])
def test_blank_values_are_empty(kind: str, value: object) -> None:
    assert check_value(kind, value) == EMPTY


@pytest.mark.parametrize("kind", sorted(KNOWN_TYPES | {"mystery"}))
@pytest.mark.parametrize("value", [True, False, [], {}, {"value": "x"}, float("nan"), float("inf")])
def test_non_values_are_invalid(kind: str, value: object) -> None:
    assert check_value(kind, value) == INVALID


@pytest.mark.parametrize("kind", ["thing", "short_thing", "const", "enum", "mystery"])
@pytest.mark.parametrize(
    "ctrl", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\ud83d"]
)
def test_control_characters_are_refused(kind: str, ctrl: str) -> None:
    assert check_value(kind, f"a{ctrl}b") == INVALID


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("character_string", "ab\ncd"),
        ("symbol", "!\t"),
        ("phone_number", "110\r"),
        ("name", "张\n三"),
        ("time", "15:01\n"),
        ("amount", "¥1\x00"),
    ],
)
def test_control_characters_are_refused_in_every_set(kind: str, value: str) -> None:
    assert check_value(kind, value) == INVALID


def test_kind_given_as_a_code_uses_its_prefix() -> None:
    assert check_value("thing1.DATA", "x" * 21) == INVALID
    assert check_value("phrase3", "111") == INVALID


# --- KeywordProblem and the §2.4 errmsg forms ---------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "field", "errmsg"),
    [
        (
            KeywordProblem("thing18", INVALID),
            "data.thing18.value",
            "argument invalid! data.thing18.value invalid",
        ),
        (
            KeywordProblem("name1", EMPTY),
            "data.name1.value",
            "argument invalid! data.name1.value is empty",
        ),
        (
            KeywordProblem("character_string1", INVALID),
            "data.character_string1.value",
            "argument invalid! data.character_string1.value i",  # cut at 30 (observed)
        ),
        (
            KeywordProblem("car_number12", EMPTY),
            "data.car_number12.value",
            "argument invalid! data.car_number12.value is emp",  # cut at 30 (observed)
        ),
    ],
)
def test_errmsg_forms(problem: KeywordProblem, field: str, errmsg: str) -> None:
    assert problem.field == field
    assert problem.errmsg() == errmsg


def test_problem_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        KeywordProblem("thing1", EMPTY).key = "thing2"  # type: ignore[misc]


# --- check_data ---------------------------------------------------------------------------------

MEETING = [("date2", "date"), ("thing1", "thing")]


def test_valid_data_passes() -> None:
    data = {
        "date2": {"value": "2016年8月8日"},
        "thing1": {"value": "TIT会议室", "color": "#173177"},
    }
    assert check_data(data, MEETING) is None


def test_request_example_passes_without_template() -> None:
    data = {"phrase3": {"value": "审核通过"}, "name1": {"value": "订阅"}}
    data["date2"] = {"value": "2019-12-25 09:42"}
    assert check_data(data) is None


def test_too_long_thing_is_invalid() -> None:
    data = {"thing12": {"value": "这" * 21}}
    problem = check_data(data, [("thing12", "thing")])
    assert problem == KeywordProblem("thing12", INVALID)
    assert problem.errmsg() == "argument invalid! data.thing12.value invalid"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ('{"date2": {"value": "2016年8月8日"}, "thing1": {"value": "x"}}', "date2"),
        ("not json", "date2"),
        ([{"date2": {"value": "x"}}], "date2"),
        (None, "date2"),
    ],
)
def test_data_not_an_object_is_first_key_empty(data: object, key: str) -> None:
    problem = check_data(data, MEETING)
    assert problem == KeywordProblem(key, EMPTY)
    assert problem.errmsg() == f"argument invalid! data.{key}.value is empty"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ('{"thing1.DATA": {"value": "x"}, "date2": {"value": "x"}}', "thing1"),
        ("not json", "data"),
        ('"a string"', "data"),
        ("{}", "data"),
        (42, "data"),
    ],
)
def test_data_not_an_object_without_template(data: object, key: str) -> None:
    assert check_data(data) == KeywordProblem(key, EMPTY)


@pytest.mark.parametrize(
    "data",
    [
        {"thing1": {"value": "x"}},  # date2 missing
        {"date2.DATA": {"value": "2016年8月8日"}, "thing1": {"value": "x"}},
        {"date2": "2016年8月8日", "thing1": {"value": "x"}},
        {"date2": {}, "thing1": {"value": "x"}},
        {"date2": {"value": None}, "thing1": {"value": "x"}},
        {"date2": {"Value": "2016年8月8日"}, "thing1": {"value": "x"}},
        {"date2": {"value": "  "}, "thing1": {"value": "x"}},
    ],
)
def test_missing_or_unwrapped_is_empty(data: dict[str, object]) -> None:
    assert check_data(data, MEETING) == KeywordProblem("date2", EMPTY)


def test_dot_data_keys_are_empty_without_template() -> None:
    assert check_data({"thing1.DATA": {"value": "x"}}) == KeywordProblem("thing1", EMPTY)


def test_first_problem_in_template_order() -> None:
    data = {"thing1": {"value": "x" * 21}, "date2": {"value": "明天"}}
    assert check_data(data, MEETING) == KeywordProblem("date2", INVALID)
    assert check_data(data) == KeywordProblem("thing1", INVALID)  # data-key order


def test_empty_before_invalid_follows_order() -> None:
    data = {"date2": {"value": "明天"}}
    assert check_data(data, MEETING) == KeywordProblem("date2", INVALID)
    assert check_data(data, list(reversed(MEETING))) == KeywordProblem("thing1", EMPTY)


def test_extra_keys_are_ignored_with_template() -> None:
    data = {"date2": {"value": "2016-8-8"}, "thing1": {"value": "x"}, "thing9": {"value": "y" * 99}}
    assert check_data(data, MEETING) is None


def test_template_type_wins_over_prefix() -> None:
    data = {"thing1": {"value": "abc"}}
    assert check_data(data, [("thing1", "number")]) == KeywordProblem("thing1", INVALID)
    assert check_data(data, [("thing1.DATA", "")]) is None  # code normalised, type from prefix


@pytest.mark.parametrize("enum_key", ["enum_string2", "enum_string2.DATA"])
def test_enum_values_by_code(enum_key: str) -> None:
    keywords = [("enum_string2", "enum_string")]
    enums = {enum_key: ROOMS}
    assert check_data({"enum_string2": {"value": "厨房"}}, keywords, enums) is None
    problem = check_data({"enum_string2": {"value": "卧室"}}, keywords, enums)
    assert problem == KeywordProblem("enum_string2", INVALID)


def test_empty_data_object() -> None:
    assert check_data({}) is None
    assert check_data({}, MEETING) == KeywordProblem("date2", EMPTY)


# --- parse_template_content and the §5 samples --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "keywords"),
    [
        (SAMPLE_TEMPLATES[0]["content"], [("date2", "date"), ("thing1", "thing")]),
        (
            SAMPLE_TEMPLATES[1]["content"],
            [("time1", "time"), ("enum_string2", "enum_string"), ("enum_string3", "enum_string")],
        ),
        ("单号:{{character_string10.DATA}}\n", [("character_string10", "character_string")]),
        (
            "A:{{ thing1.DATA }}\nB:{{thing1.DATA}}\nC:{{short_thing2.DATA}}",
            [
                ("thing1", "thing"),
                ("short_thing2", "short_thing"),
            ],
        ),
        ("no placeholders", []),
    ],
)
def test_parse_template_content(content: str, keywords: list[tuple[str, str]]) -> None:
    assert parse_template_content(content) == keywords


@pytest.mark.parametrize("template", SAMPLE_TEMPLATES, ids=lambda t: t["title"])
def test_sample_template_examples_pass(template: dict[str, object]) -> None:
    content, example = str(template["content"]), str(template["example"])
    keywords = parse_template_content(content)
    values = [line.split(":", 1)[1] for line in example.splitlines() if line]
    data = {code: {"value": value} for (code, _), value in zip(keywords, values)}
    raw = template.get("keywordEnumValueList") or []
    assert isinstance(raw, list)
    enums = {e["keywordCode"]: e["enumValueList"] for e in raw}
    assert check_data(data, keywords, enums) is None
    data[keywords[-1][0]] = {"value": "\u4e00" * 21}
    assert check_data(data, keywords, enums) == KeywordProblem(keywords[-1][0], INVALID)
