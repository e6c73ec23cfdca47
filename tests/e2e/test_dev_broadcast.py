"""`wxapush dev` runs broadcast's workers: a campaign posted over HTTP drains on its own."""

from __future__ import annotations

import json
import re
import time

import requests

from .test_dev_stack import banner  # noqa: F401  (the fixture: `wxapush dev` running)


def test_a_campaign_posted_to_the_local_stack_is_drained_by_its_workers(
    banner: str,  # noqa: F811
) -> None:
    gateway = re.search(r"functions\s+(http://\S+)/<function>", banner)
    key = re.search(r"admin key\s+(\S+)", banner)
    body = re.search(r"-d '(\{.*\})'", banner)
    assert gateway and key and body, banner
    assert "broadcast" in banner
    example = json.loads(body[1])
    headers = {"Authorization": f"Bearer {key[1]}"}
    campaign = {
        "template_id": example["template_id"],
        "data": example["data"],
        "recipients": [example["touser"]],
        "broadcast_id": "dev-1",
    }
    url = f"{gateway[1]}/broadcast"
    created = requests.post(url, json=campaign, headers=headers, timeout=10)
    assert created.status_code == 200 and created.json()["total"] == 1, created.text
    deadline = time.monotonic() + 20
    status = {"action": "status", "broadcast_id": "dev-1"}
    while True:
        report = requests.post(url, json=status, headers=headers, timeout=10).json()
        if report["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert report["status"] == "done" and report["counts"]["sent"] == 1, report
