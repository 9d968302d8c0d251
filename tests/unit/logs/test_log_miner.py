"""The template miner: how well it groups the demo world's lines, that its IDs and saved state
are stable, and what its masks hide."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from aiops.dev.log_evaluation import LabelledLine, grouping_accuracy, labelled_world_lines
from aiops.logs.masking import Masker
from aiops.logs.miner import TemplateMiner
from aiops.logs.templates import MinerConfig
from aiops.logs.tokens import template_tokens

HOURS = 3
Line = LabelledLine


@pytest.fixture(scope="module")
def lines() -> list[Line]:
    """The demo world's last hours as the pipeline parses them, each with its true template."""
    return labelled_world_lines(HOURS)


def _mine(miner: TemplateMiner, lines: list[Line]) -> list[str]:
    return [miner.add(x.service, x.content, x.level, x.timestamp_ms).id for x in lines]


def _state(miner: TemplateMiner) -> dict[str, Any]:
    """`to_json()` without the route-cache switch, which is the one thing meant to differ."""
    data = miner.to_json()
    data["config"] = {k: v for k, v in data["config"].items() if k != "route_cache"}
    return data


def _final(miner: TemplateMiner, lines: list[Line], ids: list[str]) -> list[str | None]:
    return [miner.resolve(line.service, cid) for line, cid in zip(lines, ids, strict=True)]


def test_groups_the_demo_worlds_lines_as_their_true_templates(lines: list[Line]) -> None:
    assert len(lines) > 5000
    miner = TemplateMiner()
    accuracy, wrong = grouping_accuracy(lines, _final(miner, lines, _mine(miner, lines)))
    assert accuracy == 1.0, wrong


def test_the_route_cache_changes_nothing(lines: list[Line]) -> None:
    cached, uncached = TemplateMiner(), TemplateMiner(MinerConfig(route_cache=False))
    assert _mine(cached, lines) == _mine(uncached, lines)
    assert _state(cached) == _state(uncached)


def test_save_load_save_is_byte_identical(lines: list[Line], tmp_path: Path) -> None:
    miner = TemplateMiner()
    _mine(miner, lines)
    first = miner.save(tmp_path / "a" / "state.json")
    second = TemplateMiner.load(first).save(tmp_path / "b.json")
    assert first.read_bytes() == second.read_bytes()


def test_mining_on_after_a_reload_is_mining_on_without_one(
    lines: list[Line], tmp_path: Path
) -> None:
    whole = TemplateMiner()
    expected = _mine(whole, lines)

    half = len(lines) // 2
    before = TemplateMiner()
    ids = _mine(before, lines[:half])
    before.save(tmp_path / "state.json")
    after = TemplateMiner.load(tmp_path / "state.json")
    ids += _mine(after, lines[half:])

    assert ids == expected
    assert after.to_json() == whole.to_json()


def test_ids_are_stable_across_runs_and_other_services(lines: list[Line]) -> None:
    one, two = _mine(TemplateMiner(), lines), _mine(TemplateMiner(), lines)
    assert one == two
    alone = [line for line in lines if line.service == "payment"]
    among = [cid for cid, line in zip(one, lines, strict=True) if line.service == "payment"]
    assert _mine(TemplateMiner(), alone) == among


SHARDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta")


def test_a_word_becomes_a_variable_once_enough_distinct_ones_are_seen() -> None:
    miner = TemplateMiner(MinerConfig(variable_after=6))
    first = miner.add("shop", "connected to shard alpha ready")
    expected_id = "E" + hashlib.sha1(b"shop\x1fconnected to shard alpha ready").hexdigest()[:8]
    assert (first.id, first.template) == (expected_id, "connected to shard alpha ready")

    ids = [miner.add("shop", f"connected to shard {name} ready").id for name in SHARDS[1:5]]
    assert len({first.id, *ids}) == 5  # five words: still five events (VM Started, VM Paused)

    merged = miner.add("shop", "connected to shard zeta ready")  # the sixth distinct word

    assert merged is first and merged.id == expected_id  # the oldest keeps its ID
    assert merged.template == "connected to shard <*> ready"
    assert merged.size == 6 and len(miner.clusters("shop")) == 1
    assert {miner.resolve("shop", cid) for cid in ids} == {expected_id}
    assert miner.add("shop", "connected to shard eta ready") is first
    # the same template in another service is another group
    assert miner.add("cart", "connected to shard alpha ready").id != expected_id


def test_a_closed_set_of_words_stays_apart() -> None:
    miner = TemplateMiner()
    states = ("Started", "Paused", "Resumed", "Stopped")
    for _ in range(50):
        for state in states:
            miner.add("nova", f"[instance: 7a1c-{len(state)}] VM {state} (Lifecycle Event)")
    assert sorted(c.template for c in miner.clusters("nova")) == [
        f"[instance: <*>] VM {state} (Lifecycle Event)" for state in sorted(states)
    ]


def test_a_template_keeps_a_constant() -> None:
    """Single words (`closeQs`, `cancelAutohide`) never merge into a bare `<*>`."""
    miner = TemplateMiner(MinerConfig(variable_after=2))
    for word in ("closeQs", "cancelAutohide", "onExpandingStarted", "setLightsOn(true)"):
        miner.add("ui", word)
    assert sorted(c.template for c in miner.clusters("ui")) == [
        "cancelAutohide", "closeQs", "onExpandingStarted", "setLightsOn(<*>)"
    ]  # fmt: skip


def test_a_variable_first_token_does_not_split_the_template() -> None:
    miner = TemplateMiner()
    users = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
    ids = [miner.add("auth", f"{user} logged in from the console").id for user in users]
    live = {miner.resolve("auth", cid) for cid in ids}
    assert live == {ids[0]}
    assert miner.cluster("auth", ids[0]).template == "<*> logged in from the console"


def test_values_of_different_lengths_are_one_template() -> None:
    miner = TemplateMiner()
    lines = [
        "proxy.example.org:5070 close, 0 bytes sent, 451 bytes received, lifetime <1 sec",
        "proxy.example.org:5070 close, 1190 bytes (1.16 KB) sent, 1671 bytes (1.63 KB) "
        "received, lifetime 00:02",
        "10.0.0.7:443 close, 7829 bytes (7.64 KB) sent, 0 bytes received, lifetime 01:12:09",
    ]
    clusters = {miner.add("proxifier", line).id for line in lines}
    assert len(clusters) == 1
    (only,) = miner.clusters("proxifier")
    assert only.template == "<*> close, <*> sent, <*> received, lifetime <*>"


def test_few_constants_and_a_long_variable_part() -> None:
    miner = TemplateMiner()
    a = miner.add("hdfs", "BLOCK* ask 10.250.14.224:50010 to delete blk_-1 blk_-22 blk_333 blk_4")
    b = miner.add("hdfs", "BLOCK* ask 10.251.7.1:50010 to delete blk_98")
    assert a is b and a.template == "BLOCK* ask <*> to delete <*>"


@pytest.mark.parametrize(
    ("message", "tokens"),
    [
        ("PacketResponder 1 for block blk_-1608999687919862906 terminating",
         "PacketResponder <*> for block <*> terminating"),
        ("flags=0x1f set on fd 0x7ffd5e8", "flags=<*> set on fd <*>"),
        ("session opened for user=alice by uid=0", "session opened for user=<*> by uid=<*>"),
        ("compile error at /src/app/main.go:123 in build", "compile error at <*> in build"),
        ("Loaded C:\\Windows\\winsxs\\amd64_x.dll with core", "Loaded <*> with core"),
        ("connect to redis-7.cache.svc:6379 refused", "connect to <*> refused"),
        ("proxy.example.org:5070 open through proxy", "<*> open through proxy"),
        ("request served in 49ms, 12.5 MB read, took 3 sec", "request served in <*> read, took <*>"),
        ("Block broadcast_2 stored as bytes in memory (estimated size 2.1 KB, free 317.5 MB)",
         "Block <*> stored as bytes in memory (estimated size <*>, free <*>)"),
        ("updateClipping isOverlap:false, getTopPadding=<*>", "updateClipping isOverlap:<*>, getTopPadding=<*>"),
        ("mask=ffffffff vis=0x40000", "mask=<*> vis=<*>"),
        ('q="running shoes" hits=12', "q=<*> hits=<*>"),
        ("GET /v2/servers/detail HTTP/1.1 status: 200", "GET <*> status: <*>"),
    ],
)  # fmt: skip
def test_variables_inside_tokens(message: str, tokens: str) -> None:
    assert template_tokens(Masker().mask(message)) == tokens.split()


def test_the_cap_evicts_the_least_recently_matched_and_counts_it(tmp_path: Path) -> None:
    miner = TemplateMiner(MinerConfig(max_templates=3))
    kept = miner.add("svc", "disk full on the data volume")
    for word in ("alpha", "beta", "gamma", "delta"):
        miner.add("svc", f"worker {word} crashed with a core dump")
        miner.add("svc", "disk full on the data volume")  # keeps being matched
    templates = sorted(c.template for c in miner.clusters("svc"))
    assert templates == [
        "disk full on the data volume",
        "worker delta crashed with a core dump",
        "worker gamma crashed with a core dump",
    ]
    assert miner.evicted() == 2 and miner.cluster("svc", kept.id) is kept
    reloaded = TemplateMiner.load(miner.save(tmp_path / "state.json"))
    assert reloaded.evicted() == 2 and reloaded.to_json() == miner.to_json()


def test_match_only_looks(lines: list[Line]) -> None:
    miner = TemplateMiner()
    ids = _mine(miner, lines[:500])
    before = json.dumps(miner.to_json(), sort_keys=True)
    service, content = lines[0].service, lines[0].content

    found = miner.match(service, content)
    unseen = miner.match(service, "a line never seen before with eight tokens here")
    elsewhere = miner.match("no-such-service", content)

    assert found is not None and found.id == ids[0]
    assert unseen is None and elsewhere is None
    assert json.dumps(miner.to_json(), sort_keys=True) == before


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail bob.smith+x@mail.example.org now", "mail <*> now"),
        ("GET https://api.example.com/v1/items?id=3 done", "GET <*> done"),
        ("order 3f2b1c4d-1a2b-4c3d-8e9f-0123456789ab placed", "order <*> placed"),
        ("from 10.0.0.1:8080 ok", "from <*> ok"),
        ("from 10.0.0.1 ok", "from <*> ok"),
        ("peer fe80::1:2 up", "peer <*> up"),
        ("peer 2001:db8::ff00:42:8329 up", "peer <*> up"),
        ("read /var/lib/data.db failed", "read <*> failed"),
        ("cd / now", "cd <*> now"),
        ("ptr 0x7ffd5e8 and deadbeef01", "ptr <*> and <*>"),
        ('q="running shoes" hits=3', "q=<*> hits=<*>"),
        ("took=49ms size 12.5MB in 3 sec, 98.5% done", "took=<*> size <*> in <*>, <*> done"),
        ("C:\\Windows\\System32\\drivers loaded", "<*> loaded"),
        ("ok=true mask=ffffffff was None", "ok=<*> mask=<*> was <*>"),
        ("amount=-12.50 EUR at 14:00:03", "amount=<*> EUR at <*>"),
        ("user u-12345 pid 1234 redis:6379", "user u-<*> pid <*> redis:<*>"),
        ("sha256 v2 ipv4 http2 decade ok", "sha256 v2 ipv4 http2 decade ok"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert Masker().mask(text) == masked


def test_quoted_strings_are_masked_only_when_asked() -> None:
    assert Masker().mask("\"GET /v2/x HTTP/1.1\" status 200 key 'abc'") == (
        "\"GET <*> HTTP/<*>\" status <*> key 'abc'"
    )
    quoted = Masker((*Masker().names, "quoted"))
    assert quoted.mask("\"GET /v2/x HTTP/1.1\" status 200 key 'abc'") == "<*> status <*> key <*>"


def test_masks_can_be_chosen() -> None:
    assert Masker.only(["email"]).mask("bob@example.com sent 3") == "<*> sent 3"
    assert Masker.only([]).mask("bob@example.com sent 3") == "bob@example.com sent 3"


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"variable_after": 1}, "MinerConfig.variable_after: must be >= 2, got 1"),
        ({"max_templates": 0}, "MinerConfig.max_templates: must be >= 1, got 0"),
        ({"samples": -1}, "MinerConfig.samples: must be >= 0, got -1"),
        ({"masks": ("email", "nope")}, "masks: unknown ['nope']"),
    ],
)
def test_miner_config_says_what_is_wrong(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        MinerConfig(**knobs)
    assert message in str(info.value)


def test_a_corrupted_state_file_is_named(tmp_path: Path) -> None:
    miner = TemplateMiner()
    miner.add("shop", "connected to shard alpha ready")
    miner.add("shop", "disk full on volume data")
    good = json.loads(miner.save(tmp_path / "good.json").read_text())

    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(good)[:-20])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "drain3", "clusters": []}))
    orphan = tmp_path / "orphan.json"
    good["services"]["shop"]["clusters"].append(dict(good["services"]["shop"]["clusters"][0]))
    good["services"]["shop"]["clusters"][-1]["id"] = "E00000000"
    orphan.write_text(json.dumps(good))

    for path in (truncated, other, orphan, tmp_path / "missing.json"):
        with pytest.raises(ValueError) as info:
            TemplateMiner.load(path)
        assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="service shop: broken template state"):
        TemplateMiner.load(orphan)


def test_parameters_recover_the_values_of_a_line() -> None:
    miner = TemplateMiner()
    first = 'q="running shoes" hits=12 took=5ms'
    miner.add("search", first)
    cluster = miner.add("search", 'q="tent" hits=0 took=17ms')
    assert cluster.template == "q=<*> hits=<*> took=<*>"

    assert miner.parameters(cluster.template, first) == ['"running shoes"', "12", "5ms"]
    assert miner.parameters(cluster.template, "something else entirely") == []
    line = "login ok for anna@example.com from 10.0.0.1:443 (session 9f8e7d6c5b4a3f21)"
    template = miner.add("auth", line).template
    assert template == "login ok for <*> from <*> (session <*>)"
    assert miner.parameters(template, line) == [
        "anna@example.com",
        "10.0.0.1:443",
        "9f8e7d6c5b4a3f21",
    ]


def test_sample_lines_are_pii_masked() -> None:
    miner = TemplateMiner()
    cluster = miner.add("auth", "login ok for anna.smith42@example.com from 10.0.0.1")
    miner.add("auth", "login ok for ben.rossi7@shop.test from 10.0.0.2")

    assert len(cluster.samples) == 2
    text = " ".join(cluster.samples)
    assert "anna.smith42@example.com" not in text and "ben.rossi7@shop.test" not in text
    assert all(s.startswith("login ok for ") for s in cluster.samples)


def test_a_blank_message_is_a_template_like_any_other() -> None:
    miner = TemplateMiner()
    first = miner.add("shop", "")
    assert miner.add("shop", "   ") is first


def test_messages_of_one_shape_get_the_tokens_their_own_masking_gives(lines: list[Line]) -> None:
    """The miner remembers tokens per shape (every digit read as 0); whichever message of a
    shape came first, each gets exactly what masking it afresh gives."""
    miner, masker = TemplateMiner(), Masker()
    variants = [line.content for line in lines] + [
        "took 5 ms", "took 7 ms", "id a1b c", "id a9b c", "10.0.0.1:80 up", "99.9.9.9:99 up",
        "v1.2.3", "v9.9.9", "0x1f ok", "0x9f ok", "9 deadbeef", "1 deadbeef",
    ]  # fmt: skip
    for message in variants:
        assert miner.tokens(message) == template_tokens(masker.mask(message)), message
