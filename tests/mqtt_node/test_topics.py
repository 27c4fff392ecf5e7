"""Topic names of MQTT protocol v1: built once, parsed back, foreign topics refused."""

from __future__ import annotations

import pytest

from mqtt_node.protocol import QOS, MessageKind, ProtocolError
from mqtt_node.topics import NODE_KINDS, STATION_KINDS, UNIT_KINDS, ParsedTopic, Topics

PREFIXES = ["bem", "lab1/bem", "a/b/c"]


def test_topics_are_those_of_the_protocol_table() -> None:
    topics = Topics("bem")
    assert topics.announce("cu-lab1") == "bem/units/cu-lab1/announce"
    assert topics.registered("cu-lab1") == "bem/units/cu-lab1/registered"
    assert topics.heartbeat(7) == "bem/stations/7/heartbeat"
    assert topics.commands(7) == "bem/stations/7/commands"
    assert topics.status(7) == "bem/stations/7/status"
    assert topics.measures(7) == "bem/stations/7/measures"
    assert topics.alarms(7) == "bem/stations/7/alarms"


def test_every_kind_has_a_topic_collection_and_a_qos() -> None:
    assert set(UNIT_KINDS) | set(STATION_KINDS) == set(MessageKind)
    assert set(QOS) == set(MessageKind)
    assert QOS[MessageKind.HEARTBEAT] == 0
    assert {QOS[kind] for kind in MessageKind if kind != MessageKind.HEARTBEAT} == {1}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("kind", list(UNIT_KINDS))
def test_unit_topics_parse_back_to_kind_and_unit_name(prefix: str, kind: MessageKind) -> None:
    topics = Topics(prefix)
    topic = getattr(topics, kind)("cu-lab1")
    assert topic.startswith(prefix + "/")
    assert topics.parse(topic) == ParsedTopic(kind, "cu-lab1")
    assert topics.topic(kind, "cu-lab1") == topic


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("kind", list(STATION_KINDS))
def test_station_topics_parse_back_to_kind_and_integer_id(prefix: str, kind: MessageKind) -> None:
    topics = Topics(prefix)
    topic = getattr(topics, kind)(7)
    parsed = topics.parse(topic)
    assert parsed == (kind, 7)
    assert type(parsed.key) is int
    assert topics.topic(kind, 7) == topic


def test_parse_result_unpacks_as_kind_and_key() -> None:
    kind, key = Topics("bem").parse("bem/stations/2147483647/measures")
    assert kind == "measures"
    assert key == 2147483647


def test_unit_names_may_hold_spaces_dots_and_non_ascii() -> None:
    topics = Topics("bem")
    for name in ("cu lab 1", "cu.lab-1_2", "zyklierer-ü", "7"):
        assert topics.parse(topics.announce(name)) == ("announce", name)


def test_node_subscribes_to_everything_a_cycler_sends() -> None:
    assert Topics("bem").node_subscriptions() == (
        "bem/units/+/announce",
        "bem/stations/+/heartbeat",
        "bem/stations/+/status",
        "bem/stations/+/measures",
        "bem/stations/+/alarms",
    )
    assert set(NODE_KINDS) == {"announce", "heartbeat", "status", "measures", "alarms"}


def test_shared_subscriptions_use_the_share_form() -> None:
    assert Topics("lab1/bem").node_subscriptions("ingest") == (
        "$share/ingest/lab1/bem/units/+/announce",
        "$share/ingest/lab1/bem/stations/+/heartbeat",
        "$share/ingest/lab1/bem/stations/+/status",
        "$share/ingest/lab1/bem/stations/+/measures",
        "$share/ingest/lab1/bem/stations/+/alarms",
    )


def test_filters_exist_for_cycler_side_kinds_too() -> None:
    topics = Topics("bem")
    assert topics.filter("commands") == "bem/stations/+/commands"
    assert topics.filter(MessageKind.REGISTERED) == "bem/units/+/registered"


@pytest.mark.parametrize("group", ["a/b", "a+", "#", "\x00"])
def test_shared_group_must_be_one_plain_level(group: str) -> None:
    with pytest.raises(ValueError, match="shared subscription group"):
        Topics("bem").node_subscriptions(group)


@pytest.mark.parametrize(
    ("topic", "says"),
    [
        ("lab/units/cu-lab1/announce", "does not start with the prefix 'bem/'"),
        ("bemx/units/cu-lab1/announce", "does not start with the prefix"),
        ("bem", "does not start with the prefix"),
        ("BEM/stations/7/status", "does not start with the prefix"),
        ("bem/stations/7/status/extra", "expected 3 levels after the prefix"),
        ("bem/stations/7", "expected 3 levels after the prefix"),
        ("bem/stations/7/", "unknown message kind ''"),
        ("bem/things/7/status", "unknown collection 'things'"),
        ("bem/stations/7/temperature", "unknown message kind 'temperature'"),
        ("bem/stations/7/announce", "unknown message kind 'announce' under stations"),
        ("bem/units/cu-lab1/measures", "unknown message kind 'measures' under units"),
        ("bem/stations/abc/status", "station id 'abc' is not a positive integer"),
        ("bem/stations/7.0/status", "station id '7.0'"),
        ("bem/stations/-7/status", "station id '-7'"),
        ("bem/stations/+7/status", "station id '+7'"),
        ("bem/stations/007/status", "station id '007'"),
        ("bem/stations/0/status", "station id '0'"),
        ("bem/stations//status", "station id ''"),
        ("bem/stations/٣/status", "station id '٣'"),
        ("bem/stations/2147483648/measures", "station id 2147483648 is above 2147483647"),
        ("bem/stations/99999999999999999999/measures", "station id '99999999999999999999'"),
        ("bem/units//announce", "unit: must not be empty"),
        ("bem/units/+/announce", "MQTT topic levels forbid"),
    ],
)
def test_topics_outside_the_protocol_are_refused(topic: str, says: str) -> None:
    with pytest.raises(ProtocolError, match="^topic ") as refused:
        Topics("bem").parse(topic)
    assert says in str(refused.value)
    assert repr(topic) in str(refused.value)


def test_prefix_with_levels_is_matched_whole() -> None:
    topics = Topics("lab1/bem")
    with pytest.raises(ProtocolError, match="prefix 'lab1/bem/'"):
        topics.parse("bem/stations/7/status")
    with pytest.raises(ProtocolError, match="prefix"):
        topics.parse("lab2/bem/stations/7/status")


@pytest.mark.parametrize("unit", ["", "   ", "cu/lab1", "cu+", "cu#", "x" * 101, 7, None])
def test_building_a_unit_topic_refuses_names_unusable_as_one_level(unit: object) -> None:
    with pytest.raises(ProtocolError, match="^unit: "):
        Topics("bem").announce(unit)  # type: ignore[arg-type]


@pytest.mark.parametrize("station", [0, -1, 2**31, True, "7", 7.0, None])
def test_building_a_station_topic_needs_a_positive_integer_id(station: object) -> None:
    with pytest.raises(ProtocolError, match="^station: expected an integer"):
        Topics("bem").measures(station)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "bem/", "/bem", "a//b", "bem/#", "bem/+", "$SYS", None])
def test_prefix_must_be_a_plain_topic(prefix: object) -> None:
    with pytest.raises(ValueError, match="topic prefix"):
        Topics(prefix)  # type: ignore[arg-type]


def test_unknown_kind_is_refused_when_building() -> None:
    with pytest.raises(ValueError, match="unknown message kind 'temperature'"):
        Topics("bem").filter("temperature")
