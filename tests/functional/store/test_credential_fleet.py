"""Failed credentials are counted by the fleet, not by an instance: on every store, wrong admin
keys guessed from one address by many cold instances at once are throttled together."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from tests.functional.conftest import gateway_event
from tests.functional.store._fleet import run_cold
from tests.functional.store.test_fleet import fleet_env
from wxemu.testing import RunningServer

INSTANCES, GUESSES = 4, 4


def test_guesses_spread_over_instances_share_one_bucket(
    wxemu: RunningServer, store_url: str
) -> None:
    guesses = [gateway_event("POST", "/get_token", {}, key=f"guess-{n}") for n in range(GUESSES)]
    answers: List[Dict[str, Any]] = [
        json.loads(answer["body"])
        for per_instance in run_cold(
            fleet_env(wxemu, store_url), "get_token", [guesses] * INSTANCES
        )
        for answer in per_instance
    ]
    refused = [a for a in answers if a["errcode"] == 990429]
    # 16 guesses, a burst of 5 for the address (one more may have dripped in meanwhile)
    assert len(answers) - len(refused) <= 6
    assert all(a["error"] == "rate_limited" and a["retry_after"] > 0 for a in refused)
    assert {a["errcode"] for a in answers} == {990401, 990429}
