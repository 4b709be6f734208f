"""429 back-off: honours the recorded Retry-After, else the default, and ends on time."""

from __future__ import annotations

from monitor.schedule.backoff import Backoff, retry_after_s
from monitor.trace import Outcome, Trace


def trace(outcome: Outcome, retry_after: float | None = None) -> Trace:
    meta = None if retry_after is None else {"retry_after_s": retry_after}
    return Trace(probe_id="p", chunks=(), prompt_tokens=None, outcome=outcome, meta=meta)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retry_after_read_from_meta() -> None:
    assert retry_after_s(trace(Outcome.RATE_LIMITED, 2.5)) == 2.5
    assert retry_after_s(trace(Outcome.RATE_LIMITED)) is None


def test_backoff_follows_retry_after() -> None:
    clock = Clock()
    b = Backoff(clock, default_s=60)
    b.record("groq", trace(Outcome.RATE_LIMITED, 5))
    assert b.active("groq")
    assert not b.active("openai")
    clock.now = 104.9
    assert b.active("groq")
    clock.now = 105.0  # 100 + 5
    assert not b.active("groq")


def test_backoff_without_retry_after_uses_the_default() -> None:
    clock = Clock()
    b = Backoff(clock, default_s=60)
    b.record("groq", trace(Outcome.RATE_LIMITED))
    clock.now = 159.0
    assert b.active("groq")
    clock.now = 160.0
    assert not b.active("groq")


def test_other_outcomes_do_not_back_off() -> None:
    b = Backoff(Clock(), default_s=60)
    for outcome in (Outcome.OK, Outcome.HTTP_ERROR, Outcome.TIMEOUT):
        b.record("groq", trace(outcome))
    assert not b.active("groq")


def test_an_absurd_retry_after_backs_off_an_hour_at_most() -> None:
    # an infinite or huge Retry-After once skipped the target for the rest of the process
    for absurd in (float("inf"), 1e300, 10**4000):
        clock = Clock()
        b = Backoff(clock, default_s=60)
        b.record("groq", trace(Outcome.RATE_LIMITED, absurd))
        clock.now = 100.0 + 3599.0
        assert b.active("groq")
        clock.now = 100.0 + 3600.0
        assert not b.active("groq"), absurd


def test_a_nan_retry_after_uses_the_default() -> None:
    assert retry_after_s(trace(Outcome.RATE_LIMITED, float("nan"))) is None
