"""Conversions at the edges: seconds in config and output, integer nanoseconds inside."""

NS_PER_S = 1_000_000_000
NS_PER_US = 1_000
NS_PER_MS = 1_000_000


def seconds_to_ns(seconds: float) -> int:
    """Round to the nearest nanosecond, as metrics.md requires of every configured deadline."""
    return round(seconds * NS_PER_S)


def ns_to_seconds(ns: float) -> float:
    return ns / NS_PER_S
