"""Alerts to the team's group robot (WeCom, DingTalk, Feishu, or any JSON webhook).

refresh_code's timer calls :func:`wxapush.alerts.check.check` after its steps: it judges each
condition (:mod:`.conditions`) from what happened since its last run, posts one message per
condition that starts firing (again at most once an hour while it fires) and one when it clears
(:mod:`.robots`), and keeps the state and the recent alerts in the store (:mod:`.ledger`).
"""
