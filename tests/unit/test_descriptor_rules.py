"""Both deploy descriptors against the input rules of the tools that deploy them.

The rules are test data, read from each tool's source and named there:
tests/fixtures/descriptor_rules.yml. Adding a function that is reached over HTTP is one entry
in HTTP_FUNCTIONS (and one block plus one `- type: http` trigger in serverless.yml, one entry in
cloudbaserc.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES: Dict[str, Any] = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "descriptor_rules.yml").read_text(encoding="utf-8")
)
SLS: Dict[str, Any] = yaml.safe_load((ROOT / "serverless.yml").read_text(encoding="utf-8"))
TCB: Dict[str, Any] = json.loads((ROOT / "cloudbaserc.json").read_text(encoding="utf-8"))
INPUTS: Dict[str, Any] = SLS["inputs"]
FUNCTIONS: Dict[str, Dict[str, Any]] = INPUTS["functions"]

#: The functions reached over HTTP: one Function URL each.
HTTP_FUNCTIONS = frozenset(
    {"send", "send_log", "get_token", "receive_event", "login", "dashboard", "broadcast"}
)
#: The functions a timer runs (broadcast has a Function URL too).
TIMER_FUNCTIONS = frozenset({"refresh_code", "broadcast"})


def test_every_rule_names_its_source() -> None:
    for tool, rules in RULES.items():
        assert re.search(r"[0-9a-f]{40}|document/product", rules["source"]), tool


# -- serverless.yml (multi-scf) ------------------------------------------------------------------


def test_serverless_top_level_and_inputs() -> None:
    rules = RULES["multi_scf"]
    assert SLS["component"] == "multi-scf"
    for key in rules["top_level_required"]:
        assert SLS.get(key), key
    for key in rules["inputs_required"]:
        assert INPUTS.get(key), key
    assert INPUTS["region"] in rules["region_allow"]


def test_the_runtime_is_one_scf_runs_and_the_deploy_skips_the_stale_check() -> None:
    runtime = INPUTS["runtime"]
    assert runtime in RULES["scf_api"]["python_runtimes"]
    assert tuple(int(p) for p in runtime[len("Python") :].split(".")) >= (3, 9)
    if runtime not in RULES["multi_scf"]["runtime_allow"]:
        # The component's published rules refuse it: every documented deploy command skips them.
        flag = RULES["multi_scf"]["skip_validation_flag"]
        for doc in ("README.md", "docs/deploy.md", "serverless.yml"):
            text = (ROOT / doc).read_text(encoding="utf-8")
            commands = re.findall(r"^\s*(?:#\s*)?scf deploy\b.*$", text, re.MULTILINE)
            assert commands, f"{doc} shows no scf deploy command"
            assert all(flag in c for c in commands), f"{doc}: {commands}"
            assert "Python3.7" in text, f"{doc} does not say why {flag} is needed"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_serverless_functions(name: str) -> None:
    rules = RULES["multi_scf"]
    fn = FUNCTIONS[name]
    assert set(fn) <= set(rules["function_keys"]), set(fn) - set(rules["function_keys"])
    assert fn["handler"] == "index.main_handler"
    merged = {**INPUTS, **fn} if rules["bundle_inputs_reach_functions"] else fn
    assert merged["memorySize"] in rules["memory_allow"]
    low, high = rules["timeout_range"]
    assert low <= merged["timeout"] <= high
    assert merged.get("layers"), f"{name} binds no layer"
    assert merged.get("environments"), f"{name} gets no environment"


def _triggers(kind: str) -> List[Dict[str, Any]]:
    return [t for t in INPUTS["triggers"] if t["type"] == kind]


def test_serverless_triggers_are_types_the_toolkit_creates() -> None:
    for trigger in INPUTS["triggers"]:
        assert set(trigger) <= set(RULES["multi_scf"]["trigger_keys"]), trigger
        assert trigger["type"] in RULES["toolkit"]["trigger_types"], trigger
        assert trigger["function"] in FUNCTIONS, trigger


def test_each_http_function_has_one_public_function_url() -> None:
    rules = RULES["toolkit"]
    urls = _triggers("http")
    assert sorted(t["function"] for t in urls) == sorted(HTTP_FUNCTIONS)
    for trigger in urls:
        params = trigger["parameters"]
        assert set(params) <= set(rules["http_parameters"]), params
        assert params.get("authType", "NONE") in rules["http_auth_types"]
        # NONE: the functions authenticate every request (admin key, session, signature).
        assert params["authType"] == "NONE"
        assert set(params["netConfig"]) <= set(rules["http_net_config"])
        assert params["netConfig"]["enableExtranet"] is True, "the toolkit defaults it to false"


def test_no_api_gateway_trigger() -> None:
    # multi-scf rebuilds each API's `function` block and loses isIntegratedResponse
    # (tencent-component-toolkit apigw/entities/api.ts): every route would answer 200 JSON.
    assert not _triggers("apigw")


def test_the_timer() -> None:
    timers = _triggers("timer")
    assert {t["function"] for t in timers} == TIMER_FUNCTIONS
    for timer in timers:
        assert set(timer["parameters"]) <= set(RULES["toolkit"]["timer_parameters"])
        assert timer["parameters"]["enable"] is True


# -- cloudbaserc.json (CloudBase CLI) ------------------------------------------------------------


def test_cloudbase_top_level() -> None:
    for key in RULES["cloudbase_cli"]["top_level_required"]:
        assert TCB.get(key), key


@pytest.mark.parametrize("fn", TCB["functions"], ids=lambda f: f["name"])
def test_cloudbase_functions(fn: Dict[str, Any]) -> None:
    rules = RULES["cloudbase_cli"]
    assert set(fn) <= set(rules["function_keys"]), set(fn) - set(rules["function_keys"])
    for key in rules["function_required"]:
        assert fn.get(key), key
    assert fn["runtime"] in rules["python_runtimes"]
    assert fn["runtime"] in RULES["scf_api"]["python_runtimes"]
    assert fn["type"] in rules["function_types"]
    assert fn["memorySize"] in rules["memory_allow"]
    low, high = rules["timeout_range"]
    assert low <= fn["timeout"] <= high
    for trigger in fn.get("triggers", []):
        assert set(trigger) == set(rules["trigger_keys"])
        assert trigger["type"] in rules["trigger_types"]
    assert bool(fn.get("triggers")) == (fn["name"] in TIMER_FUNCTIONS)


def test_both_descriptors_deploy_the_same_functions() -> None:
    assert set(FUNCTIONS) == {f["name"] for f in TCB["functions"]}
    assert set(FUNCTIONS) == HTTP_FUNCTIONS | TIMER_FUNCTIONS
    for name in FUNCTIONS:
        assert (ROOT / "functions" / name / "index.py").is_file(), name


def test_cloudbase_values_carry_no_quote_or_backslash() -> None:
    # The CLI pastes {{env.X}} values into the JSON text before parsing it.
    for fn in TCB["functions"]:
        for key, value in fn["envVariables"].items():
            assert '"' not in value and "\\" not in value, (fn["name"], key)
