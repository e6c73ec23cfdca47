"""The packaged zips run the way SCF runs them, in an environment with nothing installed.

``wxapush package`` builds the layer for the target runtime (CPython 3.9, manylinux2014 x86_64).
The test unpacks it into ``opt/`` and the send function into ``var/user/``, creates a virtual
environment with nothing in it (``python -m venv --without-pip``), sets
``PYTHONPATH=var/user:opt`` as SCF does and calls
``index.main_handler`` with Tencent's documented API-gateway event against wxemu: the message
must be sent, with the AppSecret read from (wxemu's) SSM through the vendored Tencent SDK.

The environment is made from a CPython 3.9 when the machine has one (this kind of machine has
one under pyenv), so the layer runs on the very runtime it was built for. Without one it is
made from the running interpreter: pure-Python and ``abi3`` wheels import there too, a ``cp39``
extension does not, and the send path needs none (charset_normalizer's compiled helpers have a
pure-Python twin; cffi, behind cryptography, is not imported by send).
Wheels are cached in ~/.cache/wxapush/wheels between runs, so only the first run downloads.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import load
from wxemu import demo
from wxemu.testing import RunningServer, running_server

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = "3.9"
ADMIN_KEY = "scf-layout-admin-key-0123456789-0123456789abcdef"
EPOCH = (1980, 1, 1, 0, 0, 0)


def target_python() -> str:
    """A CPython of the target runtime if the machine has one, else the running interpreter."""
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{RUNTIME}.*/bin/python3")))
    for candidate in [*pyenv, shutil.which(f"python{RUNTIME}")]:
        if candidate is None:
            continue
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        done = subprocess.run(probe, capture_output=True, text=True)  # a pyenv shim may refuse
        if done.returncode == 0 and done.stdout.strip() == RUNTIME:
            return candidate
    return sys.executable


def package(output: Path) -> str:
    command = [sys.executable, "-m", "wxapush.cli", "package", "--runtime", RUNTIME,
               "--output", str(output)]  # fmt: skip
    # The default extras follow WXAPUSH_STORE/WXAPUSH_CACHE: neither is set here (every driver).
    env = {k: v for k, v in os.environ.items() if k not in ("WXAPUSH_STORE", "WXAPUSH_CACHE")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "extras: tencent, redis, sql (the drivers of every store" in done.stdout
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("dist")
    report = package(output)
    assert f"{output / 'layer.zip'}" in report and "KiB" in report  # each zip's size
    return output


@pytest.fixture(scope="module")
def wxemu() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as z:
        z.extractall(target)


def test_two_package_runs_give_identical_bytes(dist: Path, tmp_path: Path) -> None:
    package(tmp_path)
    zips = sorted(p.name for p in dist.glob("*.zip"))
    assert "layer.zip" in zips and "send.zip" in zips
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == zips
    for name in zips:
        assert (tmp_path / name).read_bytes() == (dist / name).read_bytes(), name


def test_the_layer_has_wxapush_and_its_dependencies_at_the_root(dist: Path) -> None:
    with zipfile.ZipFile(dist / "layer.zip") as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    for module in ("wxapush/__init__.py", "wxapush/ssm.py", "cryptography/__init__.py",
                   "tencentcloud/ssm/v20190923/ssm_client.py"):  # fmt: skip
        assert module in names, module
    # Dev-only modules stay home: the CLI drives wxemu, packaging drives pip.
    for dev_only in ("__main__.py", "cli.py", "cli_broadcast.py", "packaging.py",
                     "packaging_bytecode.py"):  # fmt: skip
        assert f"wxapush/{dev_only}" not in names
    # Bytecode only where the build compiled it: beside a source, for the target's runtime.
    pycs = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert all(n.endswith(".cpython-39.pyc") and n.split("/")[-2] == "__pycache__" for n in pycs)
    assert not [n for n in names if n.startswith(("python/", "opt/", "wxemu/"))]
    assert {(i.date_time, i.external_attr >> 16) for i in infos} == {(EPOCH, 0o100644)}


def test_the_default_layer_carries_every_store_driver_for_the_target(dist: Path) -> None:
    with zipfile.ZipFile(dist / "layer.zip") as z:
        names = set(z.namelist())
    for module in ("redis/__init__.py", "psycopg/__init__.py", "pymysql/__init__.py"):
        assert module in names, module
    assert not [n for n in names if n.startswith("sqlalchemy/")]  # the SQL store uses none
    # redis needs async-timeout below Python 3.11.3: resolved for the 3.9 target, whatever
    # interpreter built the layer.
    assert "async_timeout/__init__.py" in names


def test_the_layer_carries_bytecode_for_the_target_runtime(dist: Path) -> None:
    interpreter = target_python()
    if interpreter == sys.executable:
        pytest.skip(f"no CPython {RUNTIME} on this machine: the layer is built without bytecode")
    magic = subprocess.run([interpreter, "-c", "import importlib.util, sys; "
                            "sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    with zipfile.ZipFile(dist / "layer.zip") as z:
        names = set(z.namelist())
        sources = [n for n in names if n.endswith(".py")]
        for module in ("wxapush/app.py", "wxapush/services/send.py", "cryptography/__init__.py",
                       "redis/client.py", "tencentcloud/ssm/v20190923/ssm_client.py"):  # fmt: skip
            head, _, name = module.rpartition("/")
            pyc = z.read(f"{head}/__pycache__/{name[:-3]}.cpython-39.pyc")
            assert pyc[:4].hex() == magic, module  # the target's own format
            # PEP 552: flags 0b01, a hash-based pyc not checked against its source (no mtime).
            assert int.from_bytes(pyc[4:8], "little") == 0b01, module

    def pyc_of(source: str) -> str:
        head, _, name = source.rpartition("/")
        return f"{head}/__pycache__/{name[:-3]}.cpython-39.pyc".lstrip("/")

    missing = [n for n in sources if pyc_of(n) not in names]
    assert len(missing) < 0.01 * len(sources), missing[:10]  # a wheel's Python 2 leftovers


def test_the_layer_ships_the_dashboards_files(dist: Path) -> None:
    static = ROOT / "shared" / "wxapush" / "dashboard" / "static"
    files = sorted(p.name for p in static.iterdir())
    assert {"index.html", "app.js", "chart.js", "style.css"} <= set(files)
    with zipfile.ZipFile(dist / "layer.zip") as z:
        for name in files:
            shipped = z.read(f"wxapush/dashboard/static/{name}")
            assert shipped == (static / name).read_bytes(), name
    with zipfile.ZipFile(dist / "dashboard.zip") as z:
        assert z.namelist() == ["index.py"]


def test_native_modules_are_built_for_the_target_runtime(dist: Path) -> None:
    with zipfile.ZipFile(dist / "layer.zip") as z:
        native = [n for n in z.namelist() if n.endswith(".so")]
    assert native, "cryptography and cffi ship compiled modules"
    target = ".cpython-39-x86_64-linux-gnu.so"
    assert all(n.endswith((target, ".abi3.so")) for n in native), native
    assert any(n.endswith(target) for n in native), "no wheel was chosen for CPython 3.9"


def test_each_function_zip_has_its_index_at_the_root(dist: Path) -> None:
    for name in ("get_token", "send", "send_log", "refresh_code"):
        with zipfile.ZipFile(dist / f"{name}.zip") as z:
            assert z.namelist() == ["index.py"], name
            staged = dist / "functions" / name / "index.py"
            assert staged.read_bytes() == z.read("index.py")


def _store_url(request: pytest.FixtureRequest, store: str, tmp_path: Path) -> str:
    """A fresh namespace on ``store`` (dropped afterwards), as the conformance suite makes."""
    from tests.functional.store import _namespaces

    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'wxapush.db'}"
    prefix = f"t{uuid.uuid4().hex[:12]}"
    server = request.getfixturevalue(f"{store}_url")
    drop = _namespaces.drop_redis if store == "redis" else _namespaces.drop_sql
    request.addfinalizer(lambda: drop(server, prefix))
    return f"{server}{'&' if '?' in server else '?'}prefix={prefix}"


@pytest.mark.parametrize(
    "store, shape",
    [
        ("sqlite", "apigw"),
        ("sqlite", "function_url"),
        ("redis", "function_url"),
        ("postgres", "function_url"),
        ("mysql", "function_url"),
    ],
)
def test_send_runs_from_the_packages_in_the_scf_layout(
    dist: Path,
    tmp_path: Path,
    wxemu: RunningServer,
    request: pytest.FixtureRequest,
    store: str,
    shape: str,
) -> None:
    store_url = _store_url(request, store, tmp_path)
    wxemu.reset()  # one server for the module: each run starts from the demo app alone
    opt, user = tmp_path / "opt", tmp_path / "var" / "user"
    unzip(dist / "layer.zip", opt)
    unzip(dist / "send.zip", user)
    venv = tmp_path / "venv"
    interpreter = target_python()
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wxemu.put_secret("wxapush-appsecret", demo.SECRET, version="v1")

    # Tencent's documented event of the shape, with our request in it.
    event = load("apigw_post_event" if shape == "apigw" else "function_url_post_event")
    event["headers"]["Authorization"] = f"Bearer {ADMIN_KEY}"
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps(
        {
            "touser": demo.OPENID,
            "template_id": demo.TEMPLATE_ID,
            "data": {
                "thing1": "手机保护壳",
                "character_string2": "SF1234567890",
                "date3": "2026-11-27 10:30",
                "amount6": "¥128.00",
            },
        },
        ensure_ascii=False,
    )
    context = load("scf_context")
    # A cold instance that creates its SQL schema on a busy machine can take seconds: the time
    # limit is not what this test is about (the fixture's 3 s is SCF's default; send's is 15 s).
    context["time_limit_in_ms"] = 60_000
    environment = {
        # What SCF sets, with the paths of this layout.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{user}:{opt}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "USER_CODE_ROOT": f"{user}/",
        "TENCENTCLOUD_RUNENV": "SCF",
        "TENCENTCLOUD_SECRETID": "AKIDscflayouttest000000000000000000",
        "TENCENTCLOUD_SECRETKEY": "scf-layout-role-key",
        "TENCENTCLOUD_SESSIONTOKEN": "scf-layout-session-token",
        # The function's configuration.
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET_SSM": "wxapush-appsecret@v1",
        "WXAPUSH_SSM_ENDPOINT": wxemu.base_url,
        "WXAPUSH_SSM_REGION": "ap-guangzhou",
        "WXAPUSH_API_BASE": wxemu.base_url,
        "WXAPUSH_STORE": store_url,
        "WXAPUSH_ADMIN_KEY": ADMIN_KEY,
    }
    script = (
        "import json, sys\n"
        "import index\n"
        "event, context = json.load(sys.stdin)\n"
        "response = index.main_handler(event, context)\n"
        "import cryptography, tencentcloud, wxapush\n"
        "where = [m.__file__ for m in (index, wxapush, cryptography, tencentcloud)]\n"
        "drivers = [m for m in ('redis', 'psycopg', 'pymysql') if m in sys.modules]\n"
        "where += [sys.modules[m].__file__ for m in drivers]\n"
        "version = list(sys.version_info[:2])\n"
        "print(json.dumps({'response': response, 'where': where, 'path': sys.path,"
        " 'version': version}))\n"
    )
    done = subprocess.run(
        [str(python), "-c", script],
        input=json.dumps([event, context]),
        capture_output=True,
        text=True,
        cwd=user,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    *log_lines, last = done.stdout.splitlines()
    out = json.loads(last)
    # On SCF every line the function writes is one JSON object carrying the invocation's keys,
    # and one of them is the invocation's INFO summary.
    written = [json.loads(line) for line in log_lines]
    assert all(line["request_id"] == context["request_id"] for line in written), written
    assert all(line["function"] == context["function_name"] for line in written), written
    summaries = [line for line in written if line["logger"] == "wxapush.invocation"]
    assert len(summaries) == 1 and summaries[0]["level"] == "INFO", written
    assert summaries[0]["errcode"] == 0 and summaries[0]["caller"] == "service", summaries
    assert summaries[0]["log_id"] and summaries[0]["time"].endswith("+08:00"), summaries
    assert not any(demo.SECRET in line or demo.OPENID in line for line in log_lines)
    response = out["response"]
    assert response["statusCode"] == 200, response
    assert ("isBase64Encoded" in response) == (shape == "apigw")
    body = json.loads(response["body"])
    assert body["errcode"] == 0 and body["status"] == "sent", body
    assert [m["msgid"] for m in wxemu.messages(demo.APPID)] == [body["msgid"]]
    # Everything came from the unpacked zips: the new environment has nothing of its own.
    index_file, *layer_files = out["where"]
    assert index_file == str(user / "index.py")
    assert all(f.startswith(str(opt)) for f in layer_files), layer_files
    assert not [p for p in out["path"] if "site-packages" in p and Path(p).exists()
                and any(Path(p).iterdir())]  # fmt: skip
    assert demo.SECRET not in done.stdout + done.stderr
    if interpreter != sys.executable:
        assert out["version"] == [3, 9]  # the layer ran on the runtime it was built for


def test_the_layer_vendors_the_runtime_dependencies_and_the_extras_asked_for() -> None:
    from wxapush.packaging import PackagingError, layer_requirements

    core = layer_requirements([])
    assert any(r.startswith("cryptography") for r in core)
    assert not [r for r in core if r.startswith("requests")]  # the transport is the stdlib's
    assert not [r for r in core if r.startswith(("tencentcloud", "redis", "pytest", "ruff"))]
    assert any(r.startswith("tencentcloud-sdk-python-ssm") for r in layer_requirements(["tencent"]))
    everything = layer_requirements(["all"])  # all = wxapush[redis,sql,tencent]
    assert {"redis", "psycopg", "PyMySQL", "tencentcloud-sdk-python-ssm"} <= {
        r.split(">")[0].split("[")[0] for r in everything
    }
    for wrong in ("dev", "bogus"):
        with pytest.raises(PackagingError, match="unknown extra"):
            layer_requirements([wrong])


def test_package_refuses_an_unknown_extra_plainly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "wxapush.cli", "package", "--extras", "bogus",
               "--output", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "unknown extra 'bogus'" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())
