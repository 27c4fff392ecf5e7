"""The topic names of MQTT protocol v1, defined once.

`Topics(prefix)` builds every topic of the protocol, the subscription filters the node
needs (optionally as MQTT 5 shared subscriptions, `$share/{group}/...`, so several
node processes can split the ingest), and maps a received topic back to its message
kind and key:

    {prefix}/units/{unit}/announce          cycler → node
    {prefix}/units/{unit}/registered        node → cycler
    {prefix}/stations/{station}/heartbeat   cycler → node
    {prefix}/stations/{station}/commands    node → cycler
    {prefix}/stations/{station}/status      cycler → node
    {prefix}/stations/{station}/measures    cycler → node
    {prefix}/stations/{station}/alarms      cycler → node

`{unit}` is the computational unit's name, `{station}` the station's numeric id.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from mqtt_node.protocol import MAX_ID, MessageKind, ProtocolError, validate_unit_name

UNITS: Final = "units"
STATIONS: Final = "stations"

# Which collection each kind lives under.
UNIT_KINDS: Final = (MessageKind.ANNOUNCE, MessageKind.REGISTERED)
STATION_KINDS: Final = (
    MessageKind.HEARTBEAT,
    MessageKind.COMMANDS,
    MessageKind.STATUS,
    MessageKind.MEASURES,
    MessageKind.ALARMS,
)

# What the node subscribes to: everything a cycler sends.
NODE_KINDS: Final = (
    MessageKind.ANNOUNCE,
    MessageKind.HEARTBEAT,
    MessageKind.STATUS,
    MessageKind.MEASURES,
    MessageKind.ALARMS,
)

_KINDS_BY_COLLECTION: Final = {UNITS: UNIT_KINDS, STATIONS: STATION_KINDS}


class ParsedTopic(NamedTuple):
    """A received topic: its kind and its key (unit name for unit kinds, station id otherwise)."""

    kind: MessageKind
    key: str | int


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"topic prefix: expected a non-empty string, got {prefix!r}")
    if any(c in prefix for c in "+#\x00"):
        raise ValueError(f"topic prefix {prefix!r}: must not contain + # or NUL")
    if prefix.startswith("$"):
        raise ValueError(f"topic prefix {prefix!r}: topics starting with $ belong to the broker")
    if "" in prefix.split("/"):
        raise ValueError(f"topic prefix {prefix!r}: has an empty level (a leading, trailing or //)")
    return prefix


def _check_station(station: int) -> int:
    if type(station) is not int or not 1 <= station <= MAX_ID:
        raise ProtocolError(f"station: expected an integer from 1 to {MAX_ID}, got {station!r}")
    return station


def _check_group(group: str) -> str:
    if not group or any(c in group for c in "/+#\x00"):
        raise ValueError(
            f"shared subscription group: expected a non-empty name without / + # or NUL, "
            f"got {group!r}"
        )
    return group


class Topics:
    """Topic names under one prefix (default "bem"; it may have several levels, "lab1/bem")."""

    __slots__ = ("prefix", "_head")

    def __init__(self, prefix: str) -> None:
        self.prefix = _check_prefix(prefix)
        self._head = prefix + "/"

    def __repr__(self) -> str:
        return f"Topics({self.prefix!r})"

    # ------------------------------------------------------------ one topic per kind

    def announce(self, unit: str) -> str:
        return self._unit_topic(unit, MessageKind.ANNOUNCE)

    def registered(self, unit: str) -> str:
        return self._unit_topic(unit, MessageKind.REGISTERED)

    def heartbeat(self, station: int) -> str:
        return self._station_topic(station, MessageKind.HEARTBEAT)

    def commands(self, station: int) -> str:
        return self._station_topic(station, MessageKind.COMMANDS)

    def status(self, station: int) -> str:
        return self._station_topic(station, MessageKind.STATUS)

    def measures(self, station: int) -> str:
        return self._station_topic(station, MessageKind.MEASURES)

    def alarms(self, station: int) -> str:
        return self._station_topic(station, MessageKind.ALARMS)

    def topic(self, kind: MessageKind | str, key: str | int) -> str:
        """The topic of any kind: `key` is the unit name or the station id."""
        kind = _kind(kind)
        if kind in UNIT_KINDS:
            return self._unit_topic(key, kind)  # type: ignore[arg-type]
        return self._station_topic(key, kind)  # type: ignore[arg-type]

    def _unit_topic(self, unit: str, kind: MessageKind) -> str:
        return f"{self._head}{UNITS}/{validate_unit_name(unit)}/{kind}"

    def _station_topic(self, station: int, kind: MessageKind) -> str:
        return f"{self._head}{STATIONS}/{_check_station(station)}/{kind}"

    # ------------------------------------------------------------ subscriptions

    def filter(self, kind: MessageKind | str, shared_group: str = "") -> str:
        """The filter matching every topic of `kind`, e.g. `bem/stations/+/measures`.

        With `shared_group`, the MQTT 5 shared form `$share/{group}/...`: the broker
        hands each message to one subscriber of the group instead of to all of them.
        """
        kind = _kind(kind)
        collection = UNITS if kind in UNIT_KINDS else STATIONS
        plain = f"{self._head}{collection}/+/{kind}"
        return f"$share/{_check_group(shared_group)}/{plain}" if shared_group else plain

    def node_subscriptions(self, shared_group: str = "") -> tuple[str, ...]:
        """The filters the node subscribes to: announce, heartbeat, status, measures, alarms."""
        return tuple(self.filter(kind, shared_group) for kind in NODE_KINDS)

    # ------------------------------------------------------------ parsing

    def parse(self, topic: str) -> ParsedTopic:
        """The kind and key of a received topic; ProtocolError for any topic outside v1."""
        if not topic.startswith(self._head):
            raise ProtocolError(f"topic {topic!r}: does not start with the prefix {self._head!r}")
        levels = topic[len(self._head) :].split("/")
        if len(levels) != 3:
            raise ProtocolError(
                f"topic {topic!r}: expected 3 levels after the prefix "
                f"(units/<unit>/<kind> or stations/<id>/<kind>), got {len(levels)}"
            )
        collection, key, kind_word = levels
        kinds = _KINDS_BY_COLLECTION.get(collection)
        if kinds is None:
            raise ProtocolError(
                f"topic {topic!r}: unknown collection {collection!r} (expected units or stations)"
            )
        if kind_word not in kinds:
            raise ProtocolError(
                f"topic {topic!r}: unknown message kind {kind_word!r} under {collection} "
                f"(expected one of {', '.join(kinds)})"
            )
        kind = MessageKind(kind_word)
        if collection == UNITS:
            try:
                return ParsedTopic(kind, validate_unit_name(key, "unit"))
            except ProtocolError as error:
                raise ProtocolError(f"topic {topic!r}: {error}") from None
        # Canonical decimal only: "007", "+7" or non-ASCII digits would name the same
        # station by a second topic.
        if not (key.isascii() and key.isdigit()) or key.startswith("0") or len(key) > 10:
            raise ProtocolError(f"topic {topic!r}: station id {key!r} is not a positive integer")
        station = int(key)
        if station > MAX_ID:
            raise ProtocolError(f"topic {topic!r}: station id {key} is above {MAX_ID}")
        return ParsedTopic(kind, station)


def _kind(kind: MessageKind | str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        raise ValueError(
            f"unknown message kind {kind!r}; expected one of {', '.join(MessageKind)}"
        ) from None
