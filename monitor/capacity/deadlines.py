"""`deadlines.prefill_model: profile`: judge a target against its latest stored prefill profile.

The daemon loads the latest profile per target when it takes the lead; each probe's target is
passed through `apply_profile` so the trace carries the fitted deadline. A target asking for a
profile that was never measured keeps the default model (the daemon logs it once).
"""

from __future__ import annotations

from monitor.config import Target


def wants_profile(target: Target) -> bool:
    return target.deadlines.prefill_model == "profile"


def apply_profile(target: Target, coefficients: tuple[float, float, float] | None) -> Target:
    """`target` with the profile's coefficients in place of `profile`; unchanged otherwise."""
    if coefficients is None or not wants_profile(target):
        return target
    deadlines = target.deadlines.model_copy(update={"prefill_model": coefficients})
    return target.model_copy(update={"deadlines": deadlines})
