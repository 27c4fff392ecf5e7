"""The in-process broker: MQTT filter matching (paho's) and shared subscriptions."""

from __future__ import annotations

from collections import Counter

from mqtt_node.transport import MemoryBroker, Message
from tests.mqtt_node.helpers import wait_for


def topics_of(messages: list[Message]) -> list[str]:
    return [message.topic for message in list(messages)]


def flush(broker: MemoryBroker, *inboxes: list[Message]) -> None:
    """Publish a marker every client matches and wait for it: each client gets its messages
    in publish order, so whatever it has not received before the marker it never will."""
    broker.publish("end", b"", 1)
    for inbox in inboxes:
        wait_for(lambda inbox=inbox: "end" in topics_of(inbox), 5, "the end marker")


def test_a_client_gets_the_topics_its_wildcard_filters_match(memory_broker, memory_client):
    inbox = memory_client("bem/stations/+/measures", "bem/units/#", "end")
    for topic in (
        "bem/stations/7/measures",
        "bem/stations/7/status",
        "bem/stations/7/x/measures",
        "bem/units/cu-1/announce",
        "bem/units",
        "other/stations/7/measures",
    ):
        memory_broker.publish(topic, b"{}", 1)
    flush(memory_broker, inbox)

    # "bem/units/#" matches its parent level too, as MQTT says.
    assert topics_of(inbox) == [
        "bem/stations/7/measures",
        "bem/units/cu-1/announce",
        "bem/units",
        "end",
    ]


def test_a_client_whose_filters_overlap_gets_one_copy(memory_broker, memory_client):
    inbox = memory_client("bem/#", "bem/stations/+/measures", "end")
    memory_broker.publish("bem/stations/7/measures", b"{}", 1)
    flush(memory_broker, inbox)

    assert topics_of(inbox) == ["bem/stations/7/measures", "end"]


def test_a_shared_subscription_gives_each_message_to_one_member_of_the_group(
    memory_broker, memory_client
):
    members = [memory_client("$share/nodes/bem/stations/+/measures", "end") for _ in range(2)]
    for station in range(1, 11):
        memory_broker.publish(f"bem/stations/{station}/measures", b"{}", 1)
    flush(memory_broker, *members)

    received = Counter(topic for inbox in members for topic in topics_of(inbox) if topic != "end")
    assert received == Counter(f"bem/stations/{station}/measures" for station in range(1, 11))
    assert all(len(inbox) > 1 for inbox in members)  # both members had a share


def test_a_plain_subscriber_and_each_shared_group_get_their_own_copy(memory_broker, memory_client):
    plain = memory_client("bem/stations/+/status", "end")
    group_a = [memory_client("$share/a/bem/stations/+/status", "end") for _ in range(2)]
    group_b = [memory_client("$share/b/bem/stations/+/status", "end")]
    memory_broker.publish("bem/stations/3/status", b"{}", 1)
    flush(memory_broker, plain, *group_a, *group_b)

    def copies(inboxes: list[list[Message]]) -> int:
        return sum(topics_of(inbox).count("bem/stations/3/status") for inbox in inboxes)

    assert (copies([plain]), copies(group_a), copies(group_b)) == (1, 1, 1)
