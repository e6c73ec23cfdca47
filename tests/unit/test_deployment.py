"""The deployment descriptors (serverless.yml, cloudbaserc.json) hold what a deploy needs.

Each check is something a real `scf deploy` or `tcb fn deploy` would trip on, or would get
silently wrong: a handler with no file behind it, a 5-field cron, an environment key nothing
reads, a trigger bound to a function that does not exist, a secret committed in clear.
The tools' own input rules are checked in test_descriptor_rules.py.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.settings_inventory import layer_reads, readme_variables
from tests.unit.test_descriptor_rules import HTTP_FUNCTIONS, TIMER_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"

RUNTIMES = frozenset({"Python3.9", "Python3.10"})
HANDLER = "index.main_handler"

#: Every documented variable: the README's Configuration table.
DOCUMENTED_VARIABLES = frozenset(readme_variables())

#: Variables the layer reads that the descriptors leave out, each for a reason. Anything else
#: the layer reads must be in both descriptors (a setting an operator may tune is found there).
NOT_IN_DESCRIPTORS = {
    # Point the Tencent SDK at wxemu's SSM and SCF fakes, locally (`wxapush dev`, tests); in the
    # cloud Tencent's own endpoints serve, and a deployer has nothing to set.
    "WXAPUSH_SSM_ENDPOINT": "wxemu only",
    "WXAPUSH_SCF_ENDPOINT": "wxemu only",
}
#: Variables the layer reads that the README's table need not list: none so far. (The
#: `wxapush` command's own WXAPUSH_URL* are not the layer's: packaging.DEV_ONLY.)
NOT_IN_README: dict[str, str] = {}

#: Variables whose value is a secret: in a descriptor they may only name the deployer's env.
SECRET_VARIABLES = frozenset(
    {
        "WXAPUSH_APPSECRET",
        "WXAPUSH_ADMIN_KEY",
        "WXAPUSH_ADMIN_KEY_PREVIOUS",
        "WXAPUSH_CALLBACK_TOKEN",
        "WXAPUSH_CALLBACK_TOKEN_PREVIOUS",
        "WXAPUSH_ENCODING_AES_KEY",
        "WXAPUSH_ENCODING_AES_KEY_PREVIOUS",
        "WXAPUSH_SESSION_SECRET",
        "WXAPUSH_SESSION_SECRET_PREVIOUS",
        "WXAPUSH_STORE",  # a store URL may carry a password
        "WXAPUSH_CACHE",
        "WXAPUSH_ALERT_WEBHOOK",  # a robot's key is in the URL
    }
)

SERVERLESS_ENV_REF = re.compile(r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$")
CLOUDBASE_ENV_REF = re.compile(r"^\{\{env\.[A-Za-z_][A-Za-z0-9_]*\}\}$")

# SCF: user env keys start with a letter, [A-Za-z0-9_], 2-64 chars.
ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,63}$")
# Timer trigger names: <= 60 chars, [a-zA-Z0-9_-], starting with a letter (§2).
TRIGGER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")
# An AppSecret is 32 hex digits; an EncodingAESKey is 43 letters and digits.
APPSECRET_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")
AES_KEY_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{43}(?![0-9A-Za-z])")

# SCF cron, 7 fields: second minute hour day month week year (§2); 0 = Sunday.
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
CRON_FIELDS: list[tuple[str, int, int, dict[str, int], str]] = [
    ("second", 0, 59, {}, ""),
    ("minute", 0, 59, {}, ""),
    ("hour", 0, 23, {}, ""),
    ("day", 1, 31, {}, "?LW"),
    ("month", 1, 12, MONTHS, ""),
    ("week", 0, 6, WEEKDAYS, "?L#"),
    ("year", 1970, 2099, {}, ""),
]


def _load_serverless() -> dict[str, Any]:
    with open(ROOT / "serverless.yml", encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict)
    return doc


def _load_cloudbase() -> dict[str, Any]:
    with open(ROOT / "cloudbaserc.json", encoding="utf-8") as f:
        doc = json.load(f)
    assert isinstance(doc, dict)
    return doc


def _packaged_code() -> Path:
    """Where `wxapush package` (default --output) stages each function's code."""
    from wxapush import cli, packaging

    args = cli.build_parser().parse_args(["package"])
    return Path(args.output) / packaging.FUNCTIONS_STAGE


PACKAGED_CODE = _packaged_code()
SLS = _load_serverless()
TCB = _load_cloudbase()
SLS_FUNCTIONS: dict[str, dict[str, Any]] = SLS["inputs"]["functions"]
TCB_FUNCTIONS: dict[str, dict[str, Any]] = {f["name"]: f for f in TCB["functions"]}


def _sls_environments() -> list[tuple[str, list[dict[str, Any]]]]:
    """Every `environments` list of serverless.yml, with where it sits."""
    found = [("inputs", SLS["inputs"]["environments"])]
    for name, fn in SLS_FUNCTIONS.items():
        if "environments" in fn:
            found.append((name, fn["environments"]))
    return found


def _cron_value(token: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names[token.upper()] if token.upper() in names else int(token)
    assert low <= value <= high, f"{token} is outside {low}-{high}"
    return value


def _check_cron_field(field: str, spec: tuple[str, int, int, dict[str, int], str]) -> None:
    label, low, high, names, specials = spec
    for part in field.split(","):
        if part == "*":
            continue
        if part == "?":
            assert "?" in specials, f"{label}: ? is for day and week only"
            continue
        if "#" in part:
            assert "#" in specials, f"{label}: # is for week only"
            day, nth = part.split("#")
            _cron_value(day, low, high, names)
            assert 1 <= int(nth) <= 5, f"{label}: {part}"
            continue
        if part[-1] in "LW" and part[-1] in specials:
            # L (last), 15W (nearest weekday), 5L (last Thursday): the base must be in range.
            if part[:-1]:
                _cron_value(part[:-1], low, high, names)
            continue
        base, _, step = part.partition("/")
        if step:
            assert step.isdigit() and int(step) >= 1, f"{label}: bad step in {part}"
        if base == "*":
            continue
        start, _, end = base.partition("-")
        first = _cron_value(start, low, high, names)
        if end:
            assert first <= _cron_value(end, low, high, names), f"{label}: {part}"


def check_cron(expression: str) -> None:
    """Assert that `expression` is a 7-field SCF cron whose every field is in range."""
    fields = expression.split()
    assert len(fields) == 7, f"{expression!r} has {len(fields)} fields, SCF/CloudBase want 7"
    for field, spec in zip(fields, CRON_FIELDS):
        _check_cron_field(field, spec)


# --- the cron checker itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 */5 * * * * *", "*/5 * * * * * *", "0 15 10 * * MON-FRI *", "0 0 10,14,16 * * * *"],
)
def test_cron_checker_accepts_documented_examples(expression: str) -> None:
    check_cron(expression)


@pytest.mark.parametrize(
    "expression",
    ["*/5 * * * *", "0 */5 * * * *", "0 60 * * * * *", "0 0 24 * * * *", "0 0 0 0 * * *"],
)
def test_cron_checker_refuses_bad_expressions(expression: str) -> None:
    with pytest.raises((AssertionError, ValueError)):
        check_cron(expression)


# --- both descriptors declare the same, existing functions ------------------------------------


def test_both_descriptors_declare_the_same_functions() -> None:
    assert set(SLS_FUNCTIONS) == set(TCB_FUNCTIONS)
    assert len(TCB_FUNCTIONS) == len(TCB["functions"]), "a CloudBase function is declared twice"


def test_every_function_folder_is_declared() -> None:
    folders = {p.name for p in FUNCTIONS_DIR.iterdir() if (p / "index.py").is_file()}
    assert set(SLS_FUNCTIONS) == folders
    assert set(SLS_FUNCTIONS) == HTTP_FUNCTIONS | TIMER_FUNCTIONS


@pytest.mark.parametrize("name", sorted(SLS_FUNCTIONS))
def test_function_folder_has_an_index_py_with_main_handler(name: str) -> None:
    folder = FUNCTIONS_DIR / name
    index = folder / "index.py"
    assert index.is_file(), f"{index} is missing: the handler {HANDLER} has no file"
    tree = ast.parse(index.read_text(encoding="utf-8"))
    handlers = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "main_handler"
    ]
    assert handlers, f"{index} defines no top-level main_handler"
    assert len(handlers[0].args.args) == 2, "main_handler(event, context) takes two arguments"


def test_serverless_code_roots_point_at_each_function_folder() -> None:
    src = SLS["inputs"]["src"]
    assert Path(src["src"]).parts == PACKAGED_CODE.parts, "deploy what `wxapush package` staged"
    assert ".env" in src.get("exclude", [])
    for name, fn in SLS_FUNCTIONS.items():
        assert Path(fn["src"]).parts == (name,), f"{name}: index.py must sit at its code root"


def test_cloudbase_function_root_is_the_functions_folder() -> None:
    assert TCB["version"] == "2.0", '{{env.X}} variables need "version": "2.0"'
    assert Path(TCB["functionRoot"]).parts == PACKAGED_CODE.parts
    assert CLOUDBASE_ENV_REF.match(TCB["envId"]), "envId comes from the deployer's env"


# --- handler, runtime, memory, timeout, layer -------------------------------------------------


def test_serverless_component_and_runtime() -> None:
    assert SLS["component"] == "multi-scf"
    for key in ("app", "stage", "name"):
        assert isinstance(SLS[key], str) and SLS[key]
    assert SLS["inputs"]["runtime"] in RUNTIMES
    for name, fn in SLS_FUNCTIONS.items():
        assert fn.get("runtime", SLS["inputs"]["runtime"]) in RUNTIMES, name


@pytest.mark.parametrize("name", sorted(SLS_FUNCTIONS))
def test_serverless_function_settings(name: str) -> None:
    fn = SLS_FUNCTIONS[name]
    assert fn["handler"] == HANDLER
    memory = fn.get("memorySize", SLS["inputs"]["memorySize"])
    assert memory == 64 or (128 <= memory <= 3072 and memory % 128 == 0)
    timeout = fn.get("timeout", SLS["inputs"]["timeout"])
    assert 1 <= timeout <= 900
    # multi-scf merges the bundle's inputs into each function (src/formatter.ts).
    _check_layers(fn.get("layers", SLS["inputs"].get("layers")))


@pytest.mark.parametrize("name", sorted(TCB_FUNCTIONS))
def test_cloudbase_function_settings(name: str) -> None:
    fn = TCB_FUNCTIONS[name]
    # The CloudBase CLI defaults to Node's index.main: Python needs both set explicitly.
    assert fn["handler"] == HANDLER
    assert fn["runtime"] in RUNTIMES
    assert fn["type"] == "Event"
    # The CN and EN CloudBase pages disagree on limits; stay inside the stricter of the two.
    assert fn["memorySize"] in {128, 256, 512, 1024, 2048}
    assert 1 <= fn["timeout"] <= 60
    _check_layers(fn.get("layers"))


def _check_layers(layers: Any) -> None:
    assert isinstance(layers, list) and layers, "the functions need the wxapush layer"
    assert len(layers) <= 5, "SCF binds at most 5 layers"
    for layer in layers:
        assert set(layer) == {"name", "version"}, layer
        assert isinstance(layer["name"], str) and layer["name"]
        assert isinstance(layer["version"], int) and layer["version"] >= 1


def test_timeouts_match_between_descriptors() -> None:
    for name, fn in SLS_FUNCTIONS.items():
        assert fn["timeout"] == TCB_FUNCTIONS[name]["timeout"], name
    assert SLS_FUNCTIONS["send"]["timeout"] > SLS_FUNCTIONS["get_token"]["timeout"]
    assert SLS_FUNCTIONS["refresh_code"]["timeout"] > SLS_FUNCTIONS["send"]["timeout"]


# --- environment ------------------------------------------------------------------------------


def test_serverless_environments_are_key_value_lists() -> None:
    for where, envs in _sls_environments():
        assert isinstance(envs, list), f"{where}: multi-scf wants a list of {{key, value}}"
        keys = []
        for item in envs:
            assert isinstance(item, dict) and set(item) == {"key", "value"}, f"{where}: {item}"
            assert isinstance(item["value"], str), f"{where}: {item['key']} must be a string"
            keys.append(item["key"])
        assert len(keys) == len(set(keys)), f"{where}: a key is set twice"


def _sls_env(envs: list[dict[str, Any]]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in envs}


def _all_envs() -> list[tuple[str, dict[str, str]]]:
    found = [(f"serverless.yml {where}", _sls_env(envs)) for where, envs in _sls_environments()]
    found += [(f"cloudbaserc.json {n}", fn["envVariables"]) for n, fn in TCB_FUNCTIONS.items()]
    return found


def test_every_function_gets_the_required_variables() -> None:
    for where, env in _all_envs():
        assert "WXAPUSH_APPID" in env, where
        assert {"WXAPUSH_APPSECRET", "WXAPUSH_APPSECRET_SSM"} & set(env), f"{where}: no secret"


def test_every_variable_is_documented() -> None:
    for where, env in _all_envs():
        for key, value in env.items():
            assert ENV_KEY.match(key), f"{where}: {key} is not a valid SCF variable name"
            assert key in DOCUMENTED_VARIABLES, f"{where}: {key} is not a documented variable"
            assert isinstance(value, str), f"{where}: {key}"


def test_every_variable_is_read_by_the_layer() -> None:
    read = layer_reads()
    for where, env in _all_envs():
        unread = set(env) - read
        assert not unread, f"{where}: the layer never reads {sorted(unread)}"


def test_every_variable_the_layer_reads_is_in_both_descriptors_and_the_readme() -> None:
    """A setting added to the layer is found where a deployer looks: each descriptor's
    environment (unless NOT_IN_DESCRIPTORS says why not) and the README's table."""
    read = layer_reads()
    assert set(NOT_IN_DESCRIPTORS) <= read and set(NOT_IN_README) <= read, "a stale exemption"
    for where, env in _all_envs():
        missing = read - set(env) - set(NOT_IN_DESCRIPTORS)
        assert not missing, f"{where} does not list {sorted(missing)}"
        exempt = set(env) & set(NOT_IN_DESCRIPTORS)
        assert not exempt, f"{where} lists {sorted(exempt)}: {NOT_IN_DESCRIPTORS}"
    undocumented = read - DOCUMENTED_VARIABLES - set(NOT_IN_README)
    assert not undocumented, f"README's Configuration table does not list {sorted(undocumented)}"


def test_the_inventory_sees_every_way_the_layer_reads_a_variable() -> None:
    """The check above is only as good as what it finds: names built at run time (the _SSM
    variants), read by the logs, the alerts and fan-out, and by config on some paths only."""
    assert {"WXAPUSH_STORE_SSM", "WXAPUSH_CACHE_SSM", "WXAPUSH_SESSION_SECRET_SSM"} <= layer_reads()
    assert {"WXAPUSH_LOG_LEVEL", "WXAPUSH_LOG_FORMAT", "WXAPUSH_ALERT_WEBHOOK"} <= layer_reads()
    assert {"WXAPUSH_BROADCAST_FANOUT", "WXAPUSH_SCF_REGION", "WXAPUSH_SSM_REGION"} <= layer_reads()
    assert "WXAPUSH_URL" not in layer_reads()  # the command's own (dev-only modules)
    assert {"WXAPUSH_ADMIN_KEY_PREVIOUS", "WXAPUSH_CALLBACK_TOKEN_PREVIOUS"} <= readme_variables()


def test_every_secret_setting_is_known_as_one() -> None:
    """Each setting config hides as a secret (and each URL that may hold a password) is held to
    `${env:NAME}` in the descriptors by the test below."""
    from wxapush import config

    fields = {f"WXAPUSH_{name.upper()}" for name in config._SECRET_FIELDS}
    urls = {"WXAPUSH_STORE", "WXAPUSH_CACHE"}
    assert fields | urls <= SECRET_VARIABLES


def test_both_descriptors_set_the_same_variables() -> None:
    envs = _all_envs()
    reference = set(envs[0][1])
    for where, env in envs:
        assert set(env) == reference, where


def test_secrets_come_from_the_deployers_environment() -> None:
    for where, env in _all_envs():
        ref = SERVERLESS_ENV_REF if where.startswith("serverless") else CLOUDBASE_ENV_REF
        for key in ("WXAPUSH_APPID", *SECRET_VARIABLES):
            if key in env:
                assert ref.match(env[key]), f"{where}: {key} must name an env variable"


@pytest.mark.parametrize("path", ["serverless.yml", "cloudbaserc.json"])
def test_nothing_looks_like_a_real_secret(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert not APPSECRET_LIKE.search(text), f"{path} holds a 32-hex string (an AppSecret?)"
    assert not AES_KEY_LIKE.search(text), f"{path} holds a 43-char key (an EncodingAESKey?)"
    assert not re.search(r"AKID[0-9A-Za-z]{10,}", text), f"{path} holds a Tencent SecretId"


def test_secret_detector_catches_a_literal_secret() -> None:
    assert APPSECRET_LIKE.search("value: 0123456789abcdef0123456789ABCDEF\n")
    assert AES_KEY_LIKE.search("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    assert not APPSECRET_LIKE.search("${env:WXAPUSH_APPSECRET}")


# --- triggers ---------------------------------------------------------------------------------


def _sls_triggers(kind: str) -> list[dict[str, Any]]:
    return [t for t in SLS["inputs"]["triggers"] if t["type"] == kind]


def test_serverless_triggers_name_declared_functions() -> None:
    for trigger in SLS["inputs"]["triggers"]:
        assert trigger["function"] in SLS_FUNCTIONS, trigger


def test_serverless_timers_run_on_a_7_field_cron() -> None:
    timers = _sls_triggers("timer")
    assert sorted(t["function"] for t in timers) == sorted(TIMER_FUNCTIONS)
    for timer in timers:
        params = timer["parameters"]
        check_cron(params["cronExpression"])
        assert params["enable"] is True, "the component leaves a timer disabled by default"
        assert TRIGGER_NAME.match(params["name"])


def test_cloudbase_timers_run_on_the_same_7_field_crons() -> None:
    timers = {
        name: trigger for name, fn in TCB_FUNCTIONS.items() for trigger in fn.get("triggers", [])
    }
    assert set(timers) == TIMER_FUNCTIONS
    sls_crons = {t["function"]: t["parameters"]["cronExpression"] for t in _sls_triggers("timer")}
    for name, trigger in timers.items():
        assert trigger["type"] == "timer"
        assert TRIGGER_NAME.match(trigger["name"])
        check_cron(trigger["config"])
        assert trigger["config"] == sls_crons[name]


def test_the_wheel_declares_the_dashboards_files() -> None:
    """pip install (not only the layer zip) must carry the page, scripts and styles."""
    import fnmatch

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    line = re.search(r"^wxapush = \[(.*)\]$", text, re.MULTILINE)
    assert line, "pyproject.toml: no package-data for wxapush"
    patterns = re.findall(r'"([^"]+)"', line[1])
    package = ROOT / "shared" / "wxapush"
    static = sorted((package / "dashboard" / "static").iterdir())
    assert static
    for path in static:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
