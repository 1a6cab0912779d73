"""The wire types device and server share (bedside.protocol): what each end writes, the other
reads, and a device reads nothing it cannot trust."""

from __future__ import annotations

import orjson

from bedside.protocol import MAX_LIMIT, PROTOCOL
from bedside.protocol.pull import Page, Pulled, PullRequest
from bedside.protocol.push import Answer, Push, Reply, parse_push
from bedside.protocol.results import Result

NOW = "2027-01-15T08:00:00.000Z"


def test_a_push_the_device_writes_is_one_the_server_accepts() -> None:
    body = Push(NOW, [{"seq": 1}, {"seq": 2}]).body()
    assert body["protocol"] == PROTOCOL
    assert parse_push(body) == Push(NOW, [{"seq": 1}, {"seq": 2}])


def test_the_device_reads_the_servers_answer_by_seq_and_leaves_out_what_it_cannot_read() -> None:
    results = [
        Result(1, "k" * 16, "confirmed", version="2").encode(),
        b'{"seq": "two", "state": "confirmed"}',
        b'"not a result"',
    ]
    wire = orjson.loads(Answer("2027-01-15T08:00:01.500Z", 1500, results).encode())
    reply = Reply.read(wire)
    assert reply.skew_ms == 1500 and reply.server_time is not None
    assert reply.server_time - reply.server_time // 1 == 0.5
    assert reply.results == {
        1: {"seq": 1, "idempotency_key": "k" * 16, "state": "confirmed", "version": "2"}
    }
    assert Reply.read({"server_time": "yesterday", "results": "none"}) == Reply(None, None, {})


def test_a_pull_asks_with_the_last_token_and_reads_the_page_head() -> None:
    assert PullRequest().params() == {"protocol": PROTOCOL, "limit": MAX_LIMIT}
    assert PullRequest("t-1", 5).params() == {"protocol": PROTOCOL, "limit": 5, "since": "t-1"}
    page = Pulled(Page("t-2", True, 3, 10, resources=[{"resourceType": "Patient"}]).body())
    assert (page.next, page.more, page.total) == ("t-2", True, 10)
    assert "snapshot" not in page.body and page.body["progress"] == {"done": 3, "total": 10}
    assert (Pulled({}).next, Pulled({}).more, Pulled({"progress": []}).total) == (None, False, None)
