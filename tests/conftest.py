"""Hypothesis profiles for the property tests (tests/unit/test_properties.py).

``ci`` (chosen when CI=true, as .ci/run runs): derandomized, a fixed number of examples, no
example database: the same examples on every run, within the time CI allows. ``dev`` (the
default elsewhere): the same count, random, with the local database, so a developer's runs
keep looking further and replay what failed before. ``thorough``: ten times as many, for a
deliberate search (HYPOTHESIS_PROFILE=thorough). The tests scale their own counts from
``settings().max_examples``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = 1000
_COMMON = {
    "deadline": None,  # two shared cores: a slow example is not a failure
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=EXAMPLES, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=EXAMPLES, **_COMMON)
settings.register_profile("thorough", max_examples=EXAMPLES * 10, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)
