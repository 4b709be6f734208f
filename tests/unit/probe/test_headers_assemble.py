"""Header allowlist, Retry-After parsing and per-chunk token reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.probe.assemble import reconcile
from monitor.probe.headers import RetryAfter, kept_headers, parse_retry_after, retry_after_s
from monitor.probe.numbers import RETRY_AFTER_MAX_S
from monitor.secrets import Scrubber


def test_only_allowlisted_headers_are_kept() -> None:
    kept = kept_headers(
        {
            "Authorization": "Bearer sk-secret",
            "Set-Cookie": "session=abc",
            "X-RateLimit-Remaining-Requests": "0",
            "anthropic-ratelimit-tokens-reset": "2026-11-23T19:00:00Z",
            "Retry-After": "7",
            "x-request-id": "req-1",
            "x-api-call-start": "1",
        }
    )
    assert kept == {
        "x-ratelimit-remaining-requests": "0",
        "anthropic-ratelimit-tokens-reset": "2026-11-23T19:00:00Z",
        "retry-after": "7",
        "x-request-id": "req-1",
        "x-api-call-start": "1",
    }


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 23, 19, 0, 0, tzinfo=UTC)
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"retry-after": "1.5"}) == 1.5
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    # HTTP date 30 s after `now`
    assert retry_after_s({"Retry-After": "Mon, 23 Nov 2026 19:00:30 GMT"}, now) == 30.0
    assert retry_after_s({"Retry-After": "soon"}) is None
    assert retry_after_s({}) is None


def test_reconcile_scales_to_usage_by_largest_remainder() -> None:
    # base 1 each, 5 extra split 5·[1,1,2]/4 = [1.25, 1.25, 2.5] → [1, 1, 2] + 1 to 2.5
    assert reconcile([1, 1, 2], 8) == [2, 2, 4]
    # already right: base 1 each + 1 extra on the weight-2 chunk
    assert reconcile([1, 2], 3) == [1, 2]
    # fewer tokens than chunks can't give each a token: unchanged
    assert reconcile([3, 3, 3], 2) == [3, 3, 3]
    assert sum(reconcile([5, 1, 1, 9], 40)) == 40


def test_absurd_retry_after_is_capped_or_absent_and_the_raw_value_kept() -> None:
    now = datetime(2026, 11, 23, 19, 0, 0, tzinfo=UTC)
    hour = RETRY_AFTER_MAX_S
    assert parse_retry_after({"Retry-After": "nan"}) == RetryAfter(None, "nan")
    assert parse_retry_after({"Retry-After": "inf"}) == RetryAfter(hour, "inf")
    assert parse_retry_after({"Retry-After": "1e400"}) == RetryAfter(hour, "1e400")
    assert parse_retry_after({"Retry-After": "3601"}) == RetryAfter(hour, "3601")
    assert parse_retry_after({"retry-after-ms": "inf"}) == RetryAfter(hour, "inf")
    year9999 = "Fri, 31 Dec 9999 23:59:59 GMT"
    assert parse_retry_after({"Retry-After": year9999}, now) == RetryAfter(hour, year9999)
    # plausible values pass untouched, the cap itself included
    assert parse_retry_after({"Retry-After": "3600"}) == RetryAfter(3600.0)
    assert parse_retry_after({"Retry-After": "-3"}) == RetryAfter(0.0)


def test_kept_header_values_are_scrubbed_before_they_are_cut() -> None:
    key = "sk-etalon-GOOD-7f3a9c1e5b44d0"
    scrub = Scrubber([key]).scrub
    kept = kept_headers({"x-api-echo": "y" * 190 + key, "x-request-id": key}, scrub)
    # cut first, the key's first 10 characters would have stayed
    assert kept == {"x-api-echo": "y" * 190 + "***", "x-request-id": "***"}


def test_at_most_64_headers_are_kept() -> None:
    many = {f"x-api-{i}": "v" for i in range(1000)}
    assert len(kept_headers(many)) == 64
