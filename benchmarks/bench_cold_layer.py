"""A cold first send from the packaged layer, with and without its bytecode, beside wechatpy.

Run on demand: ``.venv/bin/python benchmarks/bench_cold_layer.py [--runtime 3.9] [--runs N]``.

What SCF does with a new instance, on the target's interpreter: ``wxapush package`` builds the
layer twice from the same inputs (``--bytecode on`` and ``--bytecode off``), each is unzipped
into an ``opt/`` and the send function into a ``var/user/``, and a new process with
``PYTHONPATH=var/user:opt`` and ``PYTHONDONTWRITEBYTECODE=1`` (``/opt`` is read-only on SCF)
runs from interpreter start to its first accepted send against wxemu (in a process of its own)
on a new embedded store. wechatpy, installed for the same interpreter by pip (which writes its
bytecode at install, as a layer built with ``pip install -t`` would have it), does the same work:
fetch a token, send one message. Each run takes the three in turn, in a rotating order, and each
ratio is the median over runs of the ratio within a run (a burst of load on the shared machine
hits one run, not one client's series). Aim: with bytecode ≤ 0.7× wechatpy. (No peak RSS
here: Linux carries ``ru_maxrss`` across ``exec`` from the forked copy of this process, which
holds the zips; ``bench_send.py`` measures it.)

It needs a CPython of the runtime on the machine (pyenv's will do, or ``--python``); wechatpy
for it is installed once into ``~/.cache/wxapush/bench/``. The clients run in a virtual
environment made from it with nothing installed (``venv --without-pip``, as
tests/e2e/test_scf_layout.py does): the interpreter's own site-packages may run start-up hooks
(``.pth`` files) that SCF's runtime has not, and that would add the same time to every client.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_send import COLD_WECHATPY, PAYLOAD, start_wxemu  # noqa: E402

from wxapush import packaging  # noqa: E402
from wxapush.packaging_bytecode import find_interpreter  # noqa: E402
from wxemu import demo  # noqa: E402

WECHATPY = ("wechatpy==1.8.18", "cryptography")  # the dev extra's, and its crypto backend

COLD_LAYER = """
import json, resource, sys, time
start = float(sys.argv[1])
from index import main_handler
result = main_handler(json.loads(sys.argv[2]), {"time_limit_in_ms": 10000})
assert result["errcode"] == 0, result
print(json.dumps({"seconds": time.time() - start,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def layer(where: Path, runtime: str, python: str, bytecode: str) -> Path:
    """The layer built ``--bytecode <bytecode>``, unzipped under ``where/opt``, with send's code
    under ``where/var/user``."""
    built = packaging.build(
        where / "dist", runtime, packaging.DEFAULT_EXTRAS, None, ROOT / "functions",
        bytecode=bytecode, python=python,
    )  # fmt: skip
    with zipfile.ZipFile(built.layer.path) as z:
        z.extractall(where / "opt")
    with zipfile.ZipFile(built.functions["send"].path) as z:
        z.extractall(where / "var" / "user")
    print(f"layer --bytecode {bytecode:<3}  {built.layer.size / 1024:8.1f} KiB  "
          f"{built.layer.files} files  sha256 {built.layer.sha256[:16]}")  # fmt: skip
    return where


def wechatpy_for(python: str, runtime: str) -> Path:
    target = Path.home() / ".cache" / "wxapush" / "bench" / f"wechatpy-cp{runtime.replace('.', '')}"
    if not (target / "wechatpy").is_dir():
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), *WECHATPY],
            check=True,
        )  # fmt: skip
    return target


def cold_layer(python: str, where: Path, base_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:  # a new instance: a new embedded store
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": f"{where / 'var' / 'user'}:{where / 'opt'}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "WXAPUSH_APPID": demo.APPID,
            "WXAPUSH_APPSECRET": demo.SECRET,
            "WXAPUSH_API_BASE": base_url,
            "WXAPUSH_STORE": f"sqlite:///{tmp}/cold.db",
        }
        argv = [str(time.time()), json.dumps(PAYLOAD)]
        out = subprocess.run(
            [python, "-c", COLD_LAYER, *argv], env=env, capture_output=True, text=True, check=True
        ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def cold_wechatpy(python: str, site: Path, base_url: str) -> dict[str, float]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(site)}
    argv = [str(time.time()), base_url, json.dumps(PAYLOAD), demo.APPID, demo.SECRET]
    out = subprocess.run(
        [python, "-c", COLD_WECHATPY, *argv], env=env, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=packaging.RUNTIMES, default="3.9")
    parser.add_argument("--python", help="the runtime's interpreter (default: found)")
    parser.add_argument("--runs", type=int, default=11, help="runs of the three (default: 11)")
    args = parser.parse_args()
    python = find_interpreter(args.runtime, args.python)
    if python is None:
        sys.exit(f"no CPython {args.runtime} on this machine: name one with --python")
    print(f"interpreter {python}")
    site = wechatpy_for(python, args.runtime)
    proc, base_url = start_wxemu()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp, "venv")
            subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
            python = str(venv / "bin" / "python")
            layers = {
                "bytecode": layer(Path(tmp, "on"), args.runtime, python, "on"),
                "source": layer(Path(tmp, "off"), args.runtime, python, "off"),
            }
            clients = {
                "wxapush, bytecode": lambda: cold_layer(python, layers["bytecode"], base_url),
                "wxapush, source": lambda: cold_layer(python, layers["source"], base_url),
                "wechatpy": lambda: cold_wechatpy(python, site, base_url),
            }
            names = list(clients)
            runs: list[dict[str, dict[str, float]]] = []
            for run in range(args.runs):
                order = names[run % 3 :] + names[: run % 3]
                runs.append({name: clients[name]() for name in order})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    base = statistics.median(r["wechatpy"]["seconds"] for r in runs)
    print(f"cold first send, Python {args.runtime}, median of {args.runs} runs:")
    for name in names:
        seconds = statistics.median(r[name]["seconds"] for r in runs)
        ratio = statistics.median(r[name]["seconds"] / r["wechatpy"]["seconds"] for r in runs)
        aim = "   (aim <= 0.70)" if name == "wxapush, bytecode" else ""
        print(f"  {name:<18} {seconds * 1e3:7.1f} ms  {ratio:5.2f}x wechatpy{aim}")
    print(f"  (wechatpy's median {base * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
