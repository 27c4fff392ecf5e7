"""The start command's size: the bound the catalogue checks holds for the protocol's
encoder at its worst, and the default max_steps always fits the default payload limit."""

from __future__ import annotations

import pytest

from config import default_settings
from domain.profiles import ProfileError, expand_profile, parse_profile
from domain.profiles.start_size import (
    CYCLER_MAX_PAYLOAD_BYTES,
    MAX_STEP_BYTES,
    check_profile_start_size,
    check_start_size,
    largest_start_bytes,
    start_command_bytes,
    steps_within,
)
from domain.window import Window
from mqtt_node.protocol import encode_start


def test_the_default_max_steps_always_fits_the_default_payload_limit():
    settings = default_settings()
    assert settings.node.max_payload_bytes == CYCLER_MAX_PAYLOAD_BYTES
    assert largest_start_bytes(settings.profiles.max_steps) <= settings.node.max_payload_bytes
    assert settings.profiles.max_steps <= steps_within(settings.node.max_payload_bytes)


def test_the_estimate_is_at_least_the_encoded_start_command_at_its_worst():
    steps = expand_profile(parse_profile("REPEAT 50\nCC, 0.3333C, VOLTAGE, 4.2\nWAIT, 1\nEND"), 2.3)
    worst_name = "\x01" * 100  # each written as a 6-byte JSON escape
    battery = {
        "technology": "\x01" * 100,
        "chemistry": "\x01" * 100,
        "nominal_capacity_ah": -2.2250738585072014e-308,
        "cells_in_series": 2**31 - 1,
    }
    window = Window(-1.2345678901234567e-300, 1.2345678901234567e300, -1e-300, 1e300)
    encoded = encode_start(2**31 - 1, worst_name, steps, window, battery)
    assert len(encoded) <= start_command_bytes(steps)
    assert len(encoded) <= largest_start_bytes(len(steps))
    assert start_command_bytes(steps) <= largest_start_bytes(len(steps))
    assert MAX_STEP_BYTES == 165


def test_a_profile_within_the_old_max_steps_whose_start_is_too_large_is_refused():
    """Regression: 100,000 steps were allowed and made a 9.9 MB start command, over the
    4,000,000-byte limit; the experiment then failed with "did not confirm the start"."""
    profile = parse_profile("REPEAT 50000\nCC, 1.5, VOLTAGE, 4.2\nWAIT, 1\nEND")
    with pytest.raises(ProfileError) as caught:
        check_profile_start_size(profile, CYCLER_MAX_PAYLOAD_BYTES)
    message = str(caught.value)
    assert message.startswith("this profile expands to 100,000 steps, a start command of ")
    assert "a cycler accepts at most 4.0 MB (4,000,000 bytes)" in message


def test_a_large_profile_without_c_rates_is_measured_exactly():
    # 30,000 steps: over the worst-case bound, but its real start command is 2.6 MB.
    profile = parse_profile("REPEAT 15000\nCC, 1.5, TIME, 1\nWAIT, 1\nEND")
    assert largest_start_bytes(30_000) > CYCLER_MAX_PAYLOAD_BYTES
    check_profile_start_size(profile, CYCLER_MAX_PAYLOAD_BYTES)


def test_a_large_profile_with_c_rates_counts_each_step_at_its_largest():
    profile = parse_profile("REPEAT 15000\nCC, 0.5C, TIME, 1\nWAIT, 1\nEND")
    with pytest.raises(ProfileError, match="expands to 30,000 steps"):
        check_profile_start_size(profile, CYCLER_MAX_PAYLOAD_BYTES)
    # Once queued for a battery, the exact steps fit.
    check_start_size(expand_profile(profile, 2.0), CYCLER_MAX_PAYLOAD_BYTES)


def test_steps_over_a_small_limit_are_refused_with_their_size():
    steps = expand_profile(parse_profile("REPEAT 100\nWAIT, 1\nEND"))
    size = start_command_bytes(steps)
    check_start_size(steps, size)
    with pytest.raises(ProfileError, match=f"a start command of .* \\({size:,} bytes\\)"):
        check_start_size(steps, size - 1)
