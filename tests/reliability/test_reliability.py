"""The reliability suite at CI scale (about a minute): fuzzing, the fault soak, the secrets scan.

The same runs at full scale (≥ 10,000 events per function; 10,000 keyed sends) are
``benchmarks/bench_reliability.py``; the README's Reliability section has both sets of figures.
"""

from __future__ import annotations

import uuid

from tests.functional.store import _namespaces

from .fuzz import FUNCTIONS, fuzz_environment, run_fuzz, secrets_used
from .logscan import capture_logs, leaks
from .soak import run_soak

FUZZ_EVENTS = 120
SOAK_SENDS = 150


def test_every_main_handler_answers_every_fuzzed_event_within_the_envelope() -> None:
    with fuzz_environment() as wxemu, capture_logs() as lines:
        reports = [run_fuzz(name, FUZZ_EVENTS) for name in FUNCTIONS]
        secrets = secrets_used(wxemu)
    for report in reports:
        print(report.line())
        assert report.events >= FUZZ_EVENTS * 0.9, report.line()
        assert report.clean, report.line()
    # The secrets scan: no credential, token or openid the run used in any log line.
    assert lines, "the run logged nothing: the capture is broken"
    assert leaks(lines, secrets) == []


def test_the_secrets_scan_finds_a_leak() -> None:
    secret = "never-log-me-0123"
    assert leaks(["INFO x ok", f"ERROR y connect failed: {secret}"], [secret]) != []
    assert leaks(["ERROR y never-log-me%2D"], ["never-log-me-"]) == []
    assert leaks(["ERROR y a%40b-secret"], ["a@b-secret"]) != []  # percent-encoded forms too


def test_fault_soak_on_sqlite_loses_and_doubles_nothing() -> None:
    report = run_soak(SOAK_SENDS, workers=3, kills=2)
    print(report.line())
    assert report.kills == 2
    assert (report.lost, report.duplicated, report.pending, report.false_sent) == (0, 0, 0, 0)
    assert report.unknown == report.unknown_delivered + report.unknown_not_delivered
    assert report.log_lines > 0 and report.log_leaks == []


def test_fault_soak_on_postgresql_with_a_redis_cache(postgres_url: str, redis_url: str) -> None:
    prefix = f"soak{uuid.uuid4().hex[:8]}"
    # trust authentication ignores the password: it is there to be looked for in the logs
    store = postgres_url.replace("postgres@", "postgres:Soak-Pw-9c1f@b2@", 1)
    store, cache = f"{store}?prefix={prefix}", f"{redis_url}?prefix={prefix}"
    try:
        report = run_soak(SOAK_SENDS * 2 // 3, workers=3, kills=1, store_url=store, cache_url=cache)
    finally:
        _namespaces.drop_sql(postgres_url, prefix)
        _namespaces.drop_redis(redis_url, prefix)
    print(report.line())
    assert (report.lost, report.duplicated, report.pending, report.false_sent) == (0, 0, 0, 0)
    assert report.unknown == report.unknown_delivered + report.unknown_not_delivered
    assert report.log_leaks == []


def test_a_soak_with_a_failure_is_not_clean() -> None:
    from .soak import SoakReport

    assert SoakReport(backend="x", sends=1, workers=1).clean
    for failure in ("lost", "duplicated", "pending", "false_sent", "stranded"):
        assert not SoakReport(backend="x", sends=1, workers=1, **{failure: 1}).clean
    assert not SoakReport(backend="x", sends=1, workers=1, unknown=1).clean  # unaccounted
