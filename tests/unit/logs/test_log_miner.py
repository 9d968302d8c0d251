"""The template miner: how well it groups the demo world's lines, that its IDs and saved state
are stable, and what its masks hide."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from aiops.dev.log_evaluation import LabelledLine, grouping_accuracy, labelled_world_lines
from aiops.logs.drain import DrainConfig
from aiops.logs.masking import Masker
from aiops.logs.miner import TemplateMiner

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


def test_groups_the_demo_worlds_lines_as_their_true_templates(lines: list[Line]) -> None:
    assert len(lines) > 5000
    accuracy, wrong = grouping_accuracy(lines, _mine(TemplateMiner(), lines))
    assert accuracy >= 0.95, wrong


def test_the_route_cache_changes_nothing(lines: list[Line]) -> None:
    cached, uncached = TemplateMiner(DrainConfig()), TemplateMiner(DrainConfig(route_cache=False))
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


def test_a_template_generalises_but_keeps_its_id() -> None:
    miner = TemplateMiner()
    first = miner.add("shop", "connected to shard alpha ready")
    expected_id = "E" + hashlib.sha1(b"shop\x1fconnected to shard alpha ready").hexdigest()[:8]
    assert (first.id, first.template) == (expected_id, "connected to shard alpha ready")

    second = miner.add("shop", "connected to shard beta ready")

    assert second is first and second.id == expected_id
    assert second.template == "connected to shard <*> ready"
    assert second.size == 2
    # the same template in another service is another group
    assert miner.add("cart", "connected to shard alpha ready").id != expected_id


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
        ("key 'abc' set", "key <*> set"),
        ("took=49ms size 12.5MB", "took=<*>ms size <*>MB"),
        ("amount=-12.50 EUR at 14:00:03", "amount=<*> EUR at <*>"),
        ("user u-12345 pid 1234 redis:6379", "user u-<*> pid <*> redis:<*>"),
        ("sha256 v2 ipv4 http2 decade ok", "sha256 v2 ipv4 http2 decade ok"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert Masker().mask(text) == masked


def test_masks_can_be_chosen() -> None:
    assert Masker.only(["email"]).mask("bob@example.com sent 3") == "<*> sent 3"
    assert Masker.only([]).mask("bob@example.com sent 3") == "bob@example.com sent 3"


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"depth": 2}, "DrainConfig.depth: must be >= 3, got 2"),
        ({"sim_threshold": 0}, "DrainConfig.sim_threshold: must be in (0, 1], got 0"),
        ({"sim_threshold": 1.5}, "DrainConfig.sim_threshold: must be in (0, 1], got 1.5"),
        ({"max_children": 1}, "DrainConfig.max_children: must be >= 2, got 1"),
        ({"samples": -1}, "DrainConfig.samples: must be >= 0, got -1"),
        ({"masks": ("email", "nope")}, "masks: unknown ['nope']"),
    ],
)
def test_drain_config_says_what_is_wrong(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        DrainConfig(**knobs)
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
    assert cluster.template == "q=<*> hits=<*> took=<*>ms"

    assert miner.parameters(cluster.template, first) == ['"running shoes"', "12", "5"]
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
