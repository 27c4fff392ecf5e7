"""The profile language: text to structure, structure back to canonical text and JSON.

A profile is a sequence of steps (WAIT, CC, CV, CP, each with one stop limit) and
REPEAT blocks, which may nest. Parsing never raises anything but `ProfileError`,
which carries every problem of the text at once, each with its line number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Text longer than this is refused before parsing: it would not fit the database column
# (16 MiB on MariaDB) and a cycling profile is never that long.
MAX_TEXT_LENGTH = 4_000_000
# REPEAT blocks may nest this deep; real profiles use two or three levels, and a bound keeps
# every recursive walk of the structure far from Python's recursion limit.
MAX_NESTING = 32
# Reading stops after this many problems: a wrong file pasted into the form gets a
# readable list, not one message per line of it.
MAX_PROBLEMS = 100


class Mode(StrEnum):
    WAIT = "WAIT"
    CC = "CC"
    CV = "CV"
    CP = "CP"


class Limit(StrEnum):
    TIME = "TIME"
    VOLTAGE = "VOLTAGE"
    CURRENT = "CURRENT"
    CAPACITY = "CAPACITY"
    ENERGY = "ENERGY"


# Which limits each mode may stop on, in the order the docs list them.
ALLOWED_LIMITS: dict[Mode, tuple[Limit, ...]] = {
    Mode.WAIT: (Limit.TIME,),
    Mode.CC: (Limit.TIME, Limit.VOLTAGE, Limit.CAPACITY),
    Mode.CV: (Limit.TIME, Limit.CURRENT),
    Mode.CP: (Limit.TIME, Limit.VOLTAGE, Limit.ENERGY),
}

# What a mode's set point is, for messages: (noun, unit).
SETPOINT_NAMES: dict[Mode, tuple[str, str]] = {
    Mode.CC: ("current", "A"),
    Mode.CV: ("voltage", "V"),
    Mode.CP: ("power", "W"),
}

# What a limit's value is, for messages: (noun, unit).
LIMIT_NAMES: dict[Limit, tuple[str, str]] = {
    Limit.TIME: ("duration", "s"),
    Limit.VOLTAGE: ("voltage", "V"),
    Limit.CURRENT: ("current", "A"),
    Limit.CAPACITY: ("capacity", "Ah"),
    Limit.ENERGY: ("energy", "Wh"),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile; `line` is None when it concerns the whole text."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


class ProfileError(ValueError):
    """A profile that cannot be used; `problems` lists every reason, in line order."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: -1 if p.line is None else p.line)  # whole-text first
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Step:
    """One instruction: hold `setpoint` in `mode` until `limit` reaches `limit_value`.

    `setpoint` is in SI units (A, V, W), or in C when `setpoint_c_rate` is set; it is
    None for WAIT. `limit_value` is in SI units, or in C for a CURRENT limit with
    `limit_c_rate` set. `line` is where the step was written; it does not take part in
    comparisons, so a profile equals the parse of its own canonical text.
    """

    mode: Mode
    setpoint: float | None
    limit: Limit
    limit_value: float
    setpoint_c_rate: bool = False
    limit_c_rate: bool = False
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Repeat:
    """A block of instructions run `count` times."""

    count: int
    body: tuple[Instruction, ...]
    line: int = field(default=0, compare=False)


Instruction = Step | Repeat


@dataclass(frozen=True)
class Profile:
    """A parsed profile: its instructions, with C-rates still in C."""

    instructions: tuple[Instruction, ...]

    @property
    def step_count(self) -> int:
        """How many steps the profile runs once every REPEAT is unrolled."""
        return count_steps(self.instructions)

    @property
    def uses_c_rates(self) -> bool:
        return any(step.setpoint_c_rate or step.limit_c_rate for step in iter_steps(self))

    def to_text(self) -> str:
        return canonical_text(self)

    def to_json(self) -> list[dict[str, Any]]:
        return profile_to_json(self)


def count_steps(instructions: tuple[Instruction, ...]) -> int:
    """Steps after unrolling, computed without unrolling (Python integers do not overflow)."""
    total = 0
    for instruction in instructions:
        if isinstance(instruction, Repeat):
            total += instruction.count * count_steps(instruction.body)
        else:
            total += 1
    return total


def iter_steps(profile: Profile) -> Iterator[Step]:
    """Each written step once, in text order, whatever the REPEAT counts."""

    def walk(instructions: tuple[Instruction, ...]) -> Iterator[Step]:
        for instruction in instructions:
            if isinstance(instruction, Repeat):
                yield from walk(instruction.body)
            else:
                yield instruction

    return walk(profile.instructions)


def c_rate_problems(profile: Profile) -> list[Problem]:
    """One problem per C-rate in the profile, for when there is no capacity to resolve them."""
    problems = []
    for step in iter_steps(profile):
        if step.setpoint_c_rate:
            problems.append(
                Problem(
                    step.line or None,
                    f"{step.mode} uses a C-rate ({format_number(step.setpoint or 0)}C) but the battery has no "
                    "nominal capacity to resolve it",
                )
            )
        if step.limit_c_rate:
            problems.append(
                Problem(
                    step.line or None,
                    f"the CURRENT limit is a C-rate ({format_number(step.limit_value)}C) but the battery has "
                    "no nominal capacity to resolve it",
                )
            )
    return problems


# ---------------------------------------------------------------- parsing

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+")
# More digits than this cannot be a sensible REPEAT count; refusing them early also
# keeps int() away from Python's limit on very long digit strings.
_MAX_COUNT_DIGITS = 15


class _Invalid(Exception):
    """Raised inside a field parser with the message for that field."""


def _number(text: str, noun: str, unit: str, allow_c_rate: bool) -> tuple[float, bool]:
    """Read one number field as (value, is_c_rate); the message completes "<subject> ..."."""
    hint = f"in {unit}, or a C-rate like 0.5C" if allow_c_rate else f"in {unit}"
    body, c_rate = text, False
    if body[-1:] in ("c", "C"):
        body, c_rate = body[:-1].rstrip(), True
    if _NOT_FINITE.fullmatch(body):
        raise _Invalid(f"needs a finite {noun}, got {text}")
    if not _NUMBER.fullmatch(body):
        got = repr(text) if text else "nothing"
        raise _Invalid(f"needs a number for the {noun} ({hint}), got {got}")
    value = float(body)
    if not math.isfinite(value):  # e.g. 1e999
        raise _Invalid(f"needs a finite {noun}, got {text}")
    if c_rate and not allow_c_rate:
        raise _Invalid(f"takes the {noun} in {unit}, not a C-rate, got {text}")
    return value, c_rate


def _parse_setpoint(mode: Mode, text: str) -> tuple[float, bool, str | None]:
    """The set point of a CC, CV or CP step, and an error message if it is unusable."""
    noun, unit = SETPOINT_NAMES[mode]
    try:
        value, c_rate = _number(text, noun, unit, allow_c_rate=mode is Mode.CC)
    except _Invalid as invalid:
        return 0.0, False, f"{mode} {invalid}"
    if mode is Mode.CV and value <= 0:
        return value, c_rate, f"CV needs a positive voltage, got {text}"
    if value == 0:  # a rest is written WAIT
        message = f"{mode} needs a non-zero {noun} (positive to charge, negative to discharge)"
        return value, c_rate, f"{message}, got {text}"
    return value, c_rate, None


def _parse_limit_value(limit: Limit, text: str, subject: str) -> tuple[float, bool, str | None]:
    """The value of a limit, and an error message if it is unusable.

    Every limit value is positive: CURRENT, CAPACITY and ENERGY are magnitudes (the
    direction comes from the set point), and VOLTAGE is a battery terminal voltage.
    """
    noun, unit = LIMIT_NAMES[limit]
    try:
        value, c_rate = _number(text, noun, unit, allow_c_rate=limit is Limit.CURRENT)
    except _Invalid as invalid:
        return 0.0, False, f"{subject} {invalid}"
    if value <= 0:
        return value, c_rate, f"{subject} needs a positive {noun} (in {unit}), got {text}"
    return value, c_rate, None


def _usage(mode: Mode) -> str:
    if mode is Mode.WAIT:
        return "WAIT, <seconds>"
    limits = "|".join(ALLOWED_LIMITS[mode])
    return f"{mode}, <{SETPOINT_NAMES[mode][0]}>, {limits}, <limit>"


def _limit_choices(mode: Mode) -> str:
    names = list(ALLOWED_LIMITS[mode])
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _parse_step(mode: Mode, fields: list[str], line: int, problems: list[Problem]) -> Step | None:
    """One WAIT/CC/CV/CP line already split into fields; None when it has problems."""
    found_before = len(problems)

    def report(message: str) -> None:
        problems.append(Problem(line, message))

    if mode is Mode.WAIT:
        # `WAIT, <seconds>` is the documented form; `WAIT, TIME, <seconds>` reads the same
        # as the other modes, so it is accepted too.
        if len(fields) == 3:
            word = fields[1].upper()
            if word != Limit.TIME:
                if word in Limit.__members__:
                    report(f"WAIT can only stop on TIME, not {word}")
                else:
                    report(f"unknown limit {fields[1]!r}; WAIT expects TIME")
            fields = [fields[0], fields[2]]
        if len(fields) != 2:
            report(f"WAIT needs 2 fields ({_usage(mode)}), got {len(fields)}")
            return None
        value, _, message = _parse_limit_value(Limit.TIME, fields[1], "WAIT")
        if message:
            report(message)
        if len(problems) > found_before:
            return None
        return Step(Mode.WAIT, None, Limit.TIME, value, line=line)

    if len(fields) != 4:
        report(f"{mode} needs 4 fields ({_usage(mode)}), got {len(fields)}")
        return None
    setpoint, setpoint_c_rate, message = _parse_setpoint(mode, fields[1])
    if message:
        report(message)
    word = fields[2].upper()
    limit: Limit | None = None
    if word in Limit.__members__:
        limit = Limit(word)
        if limit not in ALLOWED_LIMITS[mode]:
            report(f"{mode} cannot stop on {limit}; expected {_limit_choices(mode)}")
            limit = None
    else:
        shown = repr(fields[2]) if fields[2] else "nothing"
        report(f"unknown limit {shown}; {mode} expects {_limit_choices(mode)}")
    limit_value, limit_c_rate = 0.0, False
    if limit is not None:
        limit_value, limit_c_rate, message = _parse_limit_value(
            limit, fields[3], f"the {limit} limit"
        )
        if message:
            report(message)
    if len(problems) > found_before or limit is None:
        return None
    return Step(mode, setpoint, limit, limit_value, setpoint_c_rate, limit_c_rate, line=line)


def _parse_count(text: str) -> tuple[int | None, str | None]:
    if not _INTEGER.fullmatch(text):
        return None, f"REPEAT needs a whole number of at least 1, got {text!r}"
    if len(text.lstrip("+-")) > _MAX_COUNT_DIGITS:
        return None, f"REPEAT count {text} is far too large"
    count = int(text)
    if count < 1:
        return None, f"REPEAT needs a whole number of at least 1, got {text}"
    return count, None


@dataclass
class _OpenBlock:
    """A REPEAT whose END has not been read yet."""

    line: int
    count: int | None
    body: list[Instruction] = field(default_factory=list)
    broken: bool = False  # a problem inside: the block is checked but not kept


def _split_lines(text: str) -> list[str]:
    # Only \n, \r\n and \r end a line, as in editors; str.splitlines would also split on
    # form feeds and Unicode separators and so shift the line numbers users see.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_profile(text: str, max_steps: int | None = None) -> Profile:
    """Parse profile text; raise `ProfileError` listing every problem found."""
    if not isinstance(text, str):
        raise ProfileError([Problem(None, "the profile must be text")])
    if len(text) > MAX_TEXT_LENGTH:
        raise ProfileError(
            [
                Problem(
                    None,
                    f"the profile text is {len(text):,} characters long; "
                    f"at most {MAX_TEXT_LENGTH:,} are accepted",
                )
            ]
        )
    problems: list[Problem] = []
    top = _OpenBlock(line=0, count=1)
    open_blocks: list[_OpenBlock] = [top]
    # Written steps never outnumber unrolled ones, so counting them while reading stops
    # an over-long text before it is all held in memory.
    written_steps = 0

    for line, raw in enumerate(_split_lines(text), start=1):
        if len(problems) >= MAX_PROBLEMS:
            problems.append(Problem(line, "too many problems: reading stopped here"))
            raise ProfileError(problems)
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        fields = [part.strip() for part in content.split(",")]
        words = fields[0].split()
        keyword = words[0].upper() if words else ""
        found_before = len(problems)

        if keyword == "REPEAT":
            count: int | None = None
            if len(words) == 2 and len(fields) == 1:
                count_text = words[1]
            elif len(words) == 1 and len(fields) == 2 and fields[1]:
                count_text = fields[1]  # `REPEAT, 10`: the comma form of older files
            else:
                count_text = ""
                problems.append(Problem(line, "REPEAT needs one count, e.g. REPEAT 10"))
            if count_text:
                count, message = _parse_count(count_text)
                if message:
                    problems.append(Problem(line, message))
            if len(open_blocks) == MAX_NESTING + 1:  # reported once per excursion
                problems.append(
                    Problem(line, f"REPEAT blocks nest more than {MAX_NESTING} deep here")
                )
            open_blocks.append(_OpenBlock(line, count))
        elif keyword == "END":
            if len(words) != 1 or len(fields) != 1:
                problems.append(Problem(line, "END takes nothing after it"))
            if len(open_blocks) == 1:
                problems.append(Problem(line, "END without a matching REPEAT"))
                continue
            block = open_blocks.pop()
            parent = open_blocks[-1]
            if not block.body and not block.broken:
                problems.append(Problem(block.line, "REPEAT block has no instructions before END"))
            if block.broken or block.count is None or not block.body:
                parent.broken = True
            else:
                parent.body.append(Repeat(block.count, tuple(block.body), line=block.line))
        elif keyword in Mode.__members__ and len(words) == 1:
            written_steps += 1
            if max_steps is not None and written_steps > max_steps:
                problems.append(
                    Problem(
                        line,
                        f"the profile has more than {max_steps:,} steps by this line; "
                        f"at most {max_steps:,} are allowed",
                    )
                )
                raise ProfileError(problems)
            step = _parse_step(Mode(keyword), fields, line, problems)
            if step is not None:
                open_blocks[-1].body.append(step)
        elif not keyword:
            problems.append(Problem(line, "missing instruction before the first comma"))
        else:
            hint = " (fields are separated by commas)" if len(words) > 1 else ""
            problems.append(
                Problem(
                    line,
                    f"unknown instruction {fields[0]!r}; expected WAIT, CC, CV, CP, REPEAT or END"
                    + hint,
                )
            )
        if len(problems) > found_before:
            open_blocks[-1].broken = True

    for block in open_blocks[1:]:
        problems.append(Problem(block.line, "REPEAT has no matching END"))
    if problems:
        raise ProfileError(problems)
    if not top.body:
        raise ProfileError([Problem(None, "the profile has no instructions")])
    profile = Profile(tuple(top.body))
    if max_steps is not None:
        check_step_count(profile, max_steps)
    return profile


def check_step_count(profile: Profile, max_steps: int) -> None:
    """Refuse a profile that unrolls to more than `max_steps` steps, naming the line."""
    total = 0
    for instruction in profile.instructions:
        total += count_steps((instruction,))
        if total > max_steps:
            raise ProfileError(
                [
                    Problem(
                        instruction.line or None,
                        f"the profile reaches {total:,} steps here once REPEAT blocks are "
                        f"unrolled; at most {max_steps:,} are allowed",
                    )
                ]
            )


# ---------------------------------------------------------------- canonical text


def format_number(value: float) -> str:
    """The shortest text that reads back as exactly `value` (whole numbers without `.0`)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _step_text(step: Step) -> str:
    limit_value = format_number(step.limit_value) + ("C" if step.limit_c_rate else "")
    if step.mode is Mode.WAIT:
        return f"WAIT, {limit_value}"
    assert step.setpoint is not None
    setpoint = format_number(step.setpoint) + ("C" if step.setpoint_c_rate else "")
    return f"{step.mode}, {setpoint}, {step.limit}, {limit_value}"


def canonical_text(profile: Profile, indent: str = "    ") -> str:
    """The profile as text in one standard layout; parsing it gives the same profile."""
    lines: list[str] = []

    def write(instructions: tuple[Instruction, ...], depth: int) -> None:
        for instruction in instructions:
            if isinstance(instruction, Repeat):
                lines.append(f"{indent * depth}REPEAT {instruction.count}")
                write(instruction.body, depth + 1)
                lines.append(f"{indent * depth}END")
            else:
                lines.append(indent * depth + _step_text(instruction))

    write(profile.instructions, 0)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON form (stored with the profile)


def _instruction_to_json(instruction: Instruction) -> dict[str, Any]:
    if isinstance(instruction, Repeat):
        return {
            "repeat": instruction.count,
            "line": instruction.line,
            "body": [_instruction_to_json(inner) for inner in instruction.body],
        }
    return {
        "mode": str(instruction.mode),
        "setpoint": instruction.setpoint,
        "setpoint_c_rate": instruction.setpoint_c_rate,
        "limit": str(instruction.limit),
        "limit_value": instruction.limit_value,
        "limit_c_rate": instruction.limit_c_rate,
        "line": instruction.line,
    }


def profile_to_json(profile: Profile) -> list[dict[str, Any]]:
    """The structure as JSON-ready lists and dicts (C-rates kept in C)."""
    return [_instruction_to_json(instruction) for instruction in profile.instructions]


def _instruction_from_json(data: dict[str, Any]) -> Instruction:
    if "repeat" in data:
        return Repeat(
            int(data["repeat"]),
            tuple(_instruction_from_json(inner) for inner in data["body"]),
            line=int(data.get("line", 0)),
        )
    setpoint = data["setpoint"]
    return Step(
        Mode(data["mode"]),
        None if setpoint is None else float(setpoint),
        Limit(data["limit"]),
        float(data["limit_value"]),
        bool(data.get("setpoint_c_rate", False)),
        bool(data.get("limit_c_rate", False)),
        line=int(data.get("line", 0)),
    )


def profile_from_json(data: list[dict[str, Any]]) -> Profile:
    """Rebuild a profile from `profile_to_json` output."""
    try:
        return Profile(tuple(_instruction_from_json(item) for item in data))
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileError(
            [Problem(None, f"the stored profile structure is damaged ({error})")]
        ) from None
