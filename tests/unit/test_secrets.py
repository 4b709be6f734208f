"""The scrubber: whole secrets and any run of 8+ of their characters, wherever they are."""

from __future__ import annotations

import logging

from monitor.config import Settings
from monitor.secrets import (
    MIN_PIECE,
    Scrubber,
    ScrubbingFilter,
    configured_secrets,
    strip_userinfo,
    url_secrets,
)

KEY = "sk-etalon-GOOD-7f3a9c1e5b44d0"


def pieces(text: str, secret: str = KEY) -> list[str]:
    return [secret[i : i + MIN_PIECE] for i in range(len(secret) - 7) if secret[i : i + 8] in text]


def test_every_run_of_eight_or_more_characters_is_removed() -> None:
    s = Scrubber([KEY])
    for start in range(len(KEY)):
        for end in range(start + MIN_PIECE, len(KEY) + 1):
            out = s.scrub(f"<{KEY[start:end]}>")
            assert out == "<***>", (start, end, out)


def test_runs_shorter_than_eight_are_left() -> None:
    s = Scrubber([KEY])
    assert s.scrub(f"prefix {KEY[:7]} and {KEY[-7:]}") == f"prefix {KEY[:7]} and {KEY[-7:]}"


def test_a_key_cut_short_and_a_key_in_pieces_elsewhere() -> None:
    s = Scrubber([KEY])
    text = f"Incorrect key {KEY[:12]}… then tail {KEY[12:]} and whole {KEY}{KEY}."
    out = s.scrub(text)
    assert out == "Incorrect key ***… then tail *** and whole ***."
    assert pieces(out) == []


def test_short_secrets_are_removed_whole_only() -> None:
    s = Scrubber(["hunter2"])
    assert s.scrub("pw hunter2 hunter") == "pw *** hunter"


def test_masking_across_chunks_keeps_lengths() -> None:
    s = Scrubber([KEY])
    chunks = ["Your key: " + KEY[:5], KEY[5:20], KEY[20:] + " ok"]
    masked = s.mask_in_place(chunks)
    assert [len(m) for m in masked] == [len(c) for c in chunks]
    assert "".join(masked) == "Your key: " + "*" * len(KEY) + " ok"


def test_nested_data_keys_and_values() -> None:
    s = Scrubber([KEY])
    data = {"headers": {"x-request-id": KEY}, KEY: [1, KEY[3:15]], "n": 2.5}
    assert s.scrub_data(data) == {"headers": {"x-request-id": "***"}, "***": [1, "***"], "n": 2.5}


def test_an_empty_scrubber_changes_nothing() -> None:
    assert Scrubber().scrub(KEY) == KEY
    assert not Scrubber([""])


def test_url_credentials() -> None:
    assert url_secrets("postgresql://u:pw-1234567@h/db?sslmode=x&password=qs-secret") == [
        "pw-1234567",
        "qs-secret",
    ]
    assert url_secrets("http://h/v1") == []
    assert strip_userinfo("https://user:pass@host:8443/v1") == (
        "https://host:8443/v1",
        "user",
        "pass",
    )
    assert strip_userinfo("https://host/v1") == ("https://host/v1", None, None)


def test_configured_secrets_know_keys_and_url_passwords() -> None:
    settings = Settings(
        database={"url": "postgresql://u:db-password-1@h/db"},
        targets={
            "a": {"provider": "simulator", "base_url": "http://h/v1", "model": "m",
                  "api_key_env": "A_KEY"},
            "b": {"provider": "simulator", "base_url": "http://h/v1", "model": "m",
                  "api_key_env": "UNSET_KEY"},
        },
    )  # fmt: skip
    found = configured_secrets(settings, {"A_KEY": KEY})
    assert sorted(found) == sorted(["db-password-1", KEY])


def test_the_log_filter_scrubs_message_arguments_and_tracebacks() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(ScrubbingFilter(Scrubber([KEY])))
    log = logging.getLogger("test.secrets")
    log.addHandler(handler)
    try:
        log.warning("row %s refused", {"text": f"key {KEY}"})
        try:
            raise ValueError(f"parameters: ('{KEY[:-4]}',)")
        except ValueError:
            log.exception("insert failed")
    finally:
        log.removeHandler(handler)
    assert len(records) == 2
    assert "***" in records[0] and "ValueError" in records[1]
    assert pieces("\n".join(records)) == []
