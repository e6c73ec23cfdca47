"""What the deploy descriptors' environments mean once deployed: the defaults, nothing else.

Listing every setting in serverless.yml and cloudbaserc.json must not change what a deployment
does: a value written out is the documented default, and a `${env:NAME}` / `{{env.NAME}}` the
deployer did not export arrives as `undefined` / an empty string, which counts as unset. The
environment also stays within SCF's size limit, and docs/deploy.md says of each setting what
the descriptors do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from tests.unit.test_deployment import _all_envs

ROOT = Path(__file__).resolve().parents[2]
#: What the deployer's shell gives: the two required settings; nothing else exported.
SHELL = {"WXAPUSH_APPID": "wx-descriptor", "WXAPUSH_APPSECRET": "descriptor-secret"}
#: What SCF sets in every function's environment.
ON_SCF = {"TENCENTCLOUD_RUNENV": "SCF", "SCF_FUNCTIONNAME": "send"}
#: SCF's limit on one function's environment variables ("Maximum environment variable size per
#: function: 4 KB", cloud.tencent.com/document/product/583/11637).
SCF_ENV_LIMIT = 4096
#: Room counted for each value taken from the shell (a store URL with its password, a key).
SHELL_VALUE_ROOM = 64
_REF = re.compile(r"^(?:\$\{env:|\{\{env\.)([A-Za-z0-9_]+)(?:\}|\}\})$")


def deployed(env: Dict[str, str], unset: str) -> Dict[str, str]:
    """``env`` as a function receives it from a shell exporting only SHELL."""
    out = dict(ON_SCF)
    for key, value in env.items():
        match = _REF.match(value)
        out[key] = SHELL.get(match.group(1), unset) if match else value
    return out


def _cases() -> List[Tuple[str, Dict[str, str], str]]:
    cases = []
    for where, env in _all_envs():
        unset = "undefined" if where.startswith("serverless") else ""
        cases.append((where, env, unset))
    return cases


CASES = _cases()
IDS = [where for where, _, _ in CASES]


def what_it_does(env: Dict[str, str]) -> Tuple[Any, ...]:
    """Everything the settings readers make of ``env``."""
    from wxapush import logs
    from wxapush.alerts.settings import alert_settings
    from wxapush.config import configured_store_urls, load_settings
    from wxapush.services.broadcast_fanout import fanout_count

    return (
        load_settings(env),
        configured_store_urls(env),
        alert_settings(env),
        logs.log_format(env),
        logs.log_level(env),
        fanout_count(env),
    )


@pytest.mark.parametrize(("where", "env", "unset"), CASES, ids=IDS)
def test_the_descriptors_deploy_the_defaults(where: str, env: Dict[str, str], unset: str) -> None:
    baseline = what_it_does({**ON_SCF, **SHELL})
    assert what_it_does(deployed(env, unset)) == baseline, where
    assert baseline[3:5] == ("json", None)  # JSON lines; the level left to the default (INFO)


def test_a_literal_other_than_the_default_would_be_seen() -> None:
    """The comparison above tells a changed default: a lease of 90 or a share of 1 differ."""
    _, env, unset = CASES[0]
    baseline = what_it_does({**ON_SCF, **SHELL})
    for key, value in (("WXAPUSH_BROADCAST_LEASE", "90"), ("WXAPUSH_ALERT_DELIVERY_RATE", "1")):
        changed = deployed({**env, key: value}, unset)
        assert what_it_does(changed) != baseline, key


@pytest.mark.parametrize(("where", "env", "unset"), CASES, ids=IDS)
def test_the_environment_fits_scfs_limit(where: str, env: Dict[str, str], unset: str) -> None:
    size = sum(
        len(key) + (SHELL_VALUE_ROOM if _REF.match(value) else len(value.encode("utf-8")))
        for key, value in env.items()
    )
    assert size <= SCF_ENV_LIMIT * 3 // 4, f"{where}: {size} bytes leaves too little room"


def _deploy_md_rows() -> Dict[str, str]:
    """docs/deploy.md §3: variable -> its "in the descriptors" cell."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = text.split("\n## 3. Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: Dict[str, str] = {}
    for line in section.splitlines():
        cells = line.split(" | ")
        if not line.startswith("| `") or len(cells) < 3:
            continue
        for name in re.findall(r"`(WXAPUSH_[A-Z0-9_]+)`", cells[0]):
            rows[name] = cells[1].strip()
    return rows


def test_deploy_md_says_what_the_descriptors_do() -> None:
    rows = _deploy_md_rows()
    for where, env in _all_envs():
        for key, value in env.items():
            said = rows.get(key)
            expected = "from your shell" if _REF.match(value) else f"`{value}`"
            assert said == expected, f"docs/deploy.md says {said!r} of {key}; {where}: {value!r}"
        for key in set(rows) - set(env):
            assert rows[key] == "not listed", f"docs/deploy.md: {key} is not in {where}"


def test_doctor_accepts_the_descriptors_as_they_are(tmp_path: Path) -> None:
    """`wxapush doctor --descriptors` passes the repository's serverless.yml against a shell
    exporting only the required settings (every literal is what config would use anyway)."""
    from wxapush import cli_doctor_checks

    env = {**SHELL, "WXAPUSH_API_BASE": "https://api.weixin.qq.com"}
    (check,) = cli_doctor_checks.descriptors(env, ROOT)
    assert check.ok, check
