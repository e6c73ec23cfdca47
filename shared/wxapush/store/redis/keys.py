"""Key names of the redis backend (``<p>`` is the prefix, ``wxapush`` unless ``?prefix=``).

Per-app keys (``<p>:<appid>:…``)::

    <p>:<appid>:idem:<key>         string  log_id holding the idempotency key
    <p>:<appid>:msgid:<msgid>      zset    log_id -> created_at (records carrying WeChat's msgid)
    <p>:<appid>:ix                 zset    log_id -> created_at: the app's log, for queries
    <p>:<appid>:ix:<f>:<values>    zset    the same, for one filter combination: f is u, t, s,
                                           ut, us, ts or uts (touser, template_id, status), the
                                           values in that order, ':'-separated
    <p>:<appid>:ix:b:<bid>         zset    the same, for one broadcast (ix:bs:<bid>:<status>
                                           with a status)
    <p>:<appid>:sum:<quarter>      hash    counters of the records created in the quarter hour
                                           starting at unix second <quarter>: s:<status>,
                                           t:<template_id>:<status>,
                                           e:<template_id>:<status>:<errcode> (errcode not 0)
    <p>:<appid>:sum:dirty          set     quarters whose counters changed since the last roll-up
    <p>:<appid>:roll:<start>:<end> hash    the counters of the quarters of a closed bucket,
                                           summed (rollups.py)
    <p>:<appid>:rolls              hash    '<start>:<end>' -> 1 for each summed bucket
    <p>:<appid>:grants:<openid>    hash    template_id -> balance
    <p>:<appid>:templates          hash    template_id -> JSON [position, title, type, …]
    <p>:<appid>:templates:synced   string  when the set was last replaced
    <p>:<appid>:bc:<bid>           hash    a campaign: head (JSON), status, n:<state> counts
    <p>:<appid>:bc:<bid>:r         hash    seq -> JSON [touser, data] of each recipient
    <p>:<appid>:bc:<bid>:o         hash    seq -> the recipient's state once it left 'queued'
    <p>:<appid>:bc:<bid>:a         hash    seq -> retries so far
    <p>:<appid>:bc:<bid>:staged    list    seqs appended to an open campaign, until its start
                                           (dropped if it is cancelled instead)
    <p>:<appid>:bq                 stream  the app's queue: entries {b: bid, s: seq}, read by
                                           the consumer group 'workers'
    <p>:<appid>:bq:later           zset    'bid seq' -> when a deferred recipient is due
    <p>:cap:<key>                  string  a counter (the per-user cap); PX ttl

Keys across apps::

    <p>:schema                     hash    version: the key layout's schema version (1), and
                                           readable_from (a newer release's marker, see
                                           store/schema_state.py)
    <p>:log:<log_id>               hash    one send-log record (an absent field is None), and
                                           _summed = 1 once it is in the summary counters
    <p>:log:created                zset    log_id -> created_at, every record (prune)
    <p>:log:keyed                  zset    log_id -> created_at, records holding a key (expiry)
    <p>:token:<key>                string  JSON {token, expires_at, fetched_at}; TTL: one day
                                           past expires_at
    <p>:lock:<name>                string  owner; PX ttl
    <p>:rate:<key>                 string  the bucket's state in µs (see base.bucket_step)
    <p>:event:<key>                string  PX ttl; <p>:events (zset key -> window end) prunes

Every component after the prefix is escaped (``%`` -> ``%25``, ``:`` -> ``%3A``) so that no two
names collide; the Lua helpers in ``lua.py`` build the same names on the server.
"""

from __future__ import annotations

from typing import Optional

DEFAULT_PREFIX = "wxapush"


def esc(value: str) -> str:
    return value.replace("%", "%25").replace(":", "%3A")


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.created = f"{prefix}:log:created"
        self.keyed = f"{prefix}:log:keyed"
        self.events = f"{prefix}:events"
        self.schema = f"{prefix}:schema"

    def app(self, appid: str) -> str:
        return f"{self.prefix}:{esc(appid)}"

    def record(self, log_id: str) -> str:
        return f"{self.prefix}:log:{log_id}"

    def msgid(self, appid: str, msgid: int) -> str:
        return f"{self.app(appid)}:msgid:{msgid}"

    def index(
        self,
        appid: str,
        touser: Optional[str] = None,
        template_id: Optional[str] = None,
        status: Optional[str] = None,
        broadcast_id: Optional[str] = None,
    ) -> str:
        """The zset of one filter combination (mirrors ``index`` in lua.py)."""
        if broadcast_id is not None:
            base = f"{self.app(appid)}:ix"
            if status is None:
                return f"{base}:b:{esc(broadcast_id)}"
            return f"{base}:bs:{esc(broadcast_id)}:{esc(status)}"
        name, values = "", []
        for letter, value in (("u", touser), ("t", template_id), ("s", status)):
            if value is not None:
                name += letter
                values.append(esc(value))
        base = f"{self.app(appid)}:ix"
        return f"{base}:{name}:{':'.join(values)}" if name else base

    def grants(self, appid: str, openid: str) -> str:
        return f"{self.app(appid)}:grants:{esc(openid)}"

    def templates(self, appid: str) -> str:
        return f"{self.app(appid)}:templates"

    def token(self, key: str) -> str:
        return f"{self.prefix}:token:{esc(key)}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{esc(name)}"

    def rate(self, key: str) -> str:
        return f"{self.prefix}:rate:{esc(key)}"

    def event(self, key: str) -> str:
        return f"{self.prefix}:event:{esc(key)}"

    def campaign(self, appid: str, broadcast_id: str) -> str:
        return f"{self.app(appid)}:bc:{esc(broadcast_id)}"

    def queue(self, appid: str) -> str:
        return f"{self.app(appid)}:bq"

    def counter(self, key: str) -> str:
        return f"{self.prefix}:cap:{esc(key)}"
