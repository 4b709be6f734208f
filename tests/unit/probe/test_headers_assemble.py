"""Header allowlist, Retry-After parsing and per-chunk token reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.probe.assemble import reconcile
from monitor.probe.headers import kept_headers, retry_after_s


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
