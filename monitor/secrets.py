"""The one place that knows the secrets and removes them from anything stored or printed.

Secrets are the API keys the targets' variables hold, passwords in the database URL (in the
userinfo or a `?password=` query) and credentials in a target's `base_url`. A `Scrubber` knows
them all and removes, from any text:

- every whole occurrence, and
- every *piece* of a secret at least `MIN_PIECE` characters long: a key cut short by truncation
  (`sk-etalon-GOOD-7f3a…`), its tail after a line break, or a key split over two chunks of a
  stream. Eight characters of a random key are ~48 bits: a longer run of a key in vendor text is
  not chance, and a shorter one tells an attacker little.

Scrub BEFORE truncating (a cut key is still mostly a key); the piece rule is the net for text cut
elsewhere (a wire module's `short()`, a log line cut by a handler).

Finding pieces costs `str.find` per 4-character block of each secret, not a scan per position:
any 8-character run of a secret contains one of its 4-aligned blocks (a run starting at offset
o contains the block at 4·⌈o/4⌉, which ends by o+7), so only a block's hits are extended both ways
and kept when the extended match is at least `MIN_PIECE` long. A 1 MiB text and a 40-character
key cost ten C-speed scans.

Secrets shorter than `MIN_PIECE` are removed only where they occur whole. The price of the piece
rule is a false positive now and then: a key's public prefix of 8+ characters (`sk-proj-`) is
masked wherever it appears, which costs nothing but a few asterisks.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from monitor.config import Settings

MIN_PIECE: Final = 8
"""The shortest run of a secret that is removed when it appears without the rest."""
_BLOCK: Final = MIN_PIECE // 2
MASK: Final = "***"
_SECRET_QUERY_KEYS: Final = frozenset(
    {"password", "passwd", "pwd", "sslpassword", "key", "api_key", "apikey", "token", "secret"}
)
"""Query parameters whose values are credentials (libpq's `password`, `sslpassword`; keys some
gateways accept as `?key=`)."""
_USERINFO: Final = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/?#@]*)@")


def url_secrets(url: str) -> list[str]:
    """Credentials a URL carries: the userinfo password and secret-named query values."""
    out: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return out
    if password:
        out.append(password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() in _SECRET_QUERY_KEYS and value:
            out.append(value)
    return out


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """The URL without `user:password@`, and the user and password it carried (None: none)."""
    match = _USERINFO.match(url)
    if match is None:
        return url, None, None
    user, _, password = match.group("user").partition(":")
    return f"{match.group('head')}{url[match.end() :]}", user or None, password or None


class Scrubber:
    """Removes known secrets (whole, or any run of `MIN_PIECE`+ characters) from text."""

    __slots__ = ("_blocks", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._secrets: tuple[str, ...] = tuple(unique)
        blocks: dict[str, list[tuple[str, int]]] = {}
        for secret in unique:
            if len(secret) < MIN_PIECE:
                continue
            for offset in range(0, len(secret) - _BLOCK + 1, _BLOCK):
                blocks.setdefault(secret[offset : offset + _BLOCK], []).append((secret, offset))
        self._blocks = blocks

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def adding(self, *secrets: str | None) -> Scrubber:
        """This scrubber plus more secrets (itself when there is nothing new)."""
        new = [s for s in secrets if s and s not in self._secrets]
        return Scrubber((*self._secrets, *new)) if new else self

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Sorted, merged `[start, end)` ranges of `text` that are secret."""
        found: list[tuple[int, int]] = []
        for secret in self._secrets:
            if len(secret) < MIN_PIECE:
                start = text.find(secret)
                while start >= 0:
                    found.append((start, start + len(secret)))
                    start = text.find(secret, start + 1)
        size = len(text)
        for block, owners in self._blocks.items():
            hit = text.find(block)
            while hit >= 0:
                for secret, offset in owners:
                    left = 0
                    while (
                        hit - left > 0
                        and offset - left > 0
                        and text[hit - left - 1] == secret[offset - left - 1]
                    ):
                        left += 1
                    right = hit + _BLOCK
                    end = offset + _BLOCK
                    while right < size and end < len(secret) and text[right] == secret[end]:
                        right += 1
                        end += 1
                    if right - (hit - left) >= MIN_PIECE:
                        found.append((hit - left, right))
                hit = text.find(block, hit + 1)
        if not found:
            return []
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged

    def scrub(self, text: str) -> str:
        """`text` with every secret span replaced by `***`."""
        if not self._secrets or not text:
            return text
        spans = self.spans(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start, end in spans:
            out.append(text[pos:start])
            out.append(MASK)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def scrub_opt(self, text: str | None) -> str | None:
        return None if text is None else self.scrub(text)

    def mask_in_place(self, texts: list[str]) -> list[str]:
        """Mask secrets across consecutive texts (stream chunks), keeping every text's length.

        A key split over two chunks is found in their concatenation; each secret character is
        replaced by `*`, so chunk boundaries and character counts stay as received.
        """
        if not self._secrets or not texts:
            return texts
        joined = "".join(texts)
        spans = self.spans(joined)
        if not spans:
            return texts
        chars = list(joined)
        for start, end in spans:
            chars[start:end] = "*" * (end - start)
        masked = "".join(chars)
        out: list[str] = []
        pos = 0
        for t in texts:
            out.append(masked[pos : pos + len(t)])
            pos += len(t)
        return out

    def scrub_data(self, value: Any) -> Any:
        """Scrub every string (keys included) in nested JSON-like data."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub(str(k)): self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_data(v) for v in value]
        return value


def configured_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the configuration refers to: target keys, URL passwords and query secrets."""
    env = os.environ if environ is None else environ
    out: list[str] = []
    if settings.database.url is not None:
        out += url_secrets(settings.database.url.get_secret_value())
    for target in settings.targets.values():
        key = target.api_key(env)
        if key is not None:
            out.append(key.get_secret_value())
        if target.base_url:
            out += url_secrets(target.base_url)
    return out


def scrubber_for(settings: Settings, environ: Mapping[str, str] | None = None) -> Scrubber:
    return Scrubber(configured_secrets(settings, environ))


class ScrubbingFilter(logging.Filter):
    """A handler filter: the record's final text (message, arguments, traceback) scrubbed."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.scrubber:
            return True
        record.msg = self.scrubber.scrub(record.getMessage())
        record.args = None
        if record.exc_info is not None and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrubber.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrubber.scrub(record.stack_info)
        return True


def scrub_logs(scrubber: Scrubber, logger: logging.Logger | None = None) -> None:
    """Put a `ScrubbingFilter` on every handler of `logger` (default: the root logger), replacing
    one installed before (the secrets may have changed)."""
    for handler in (logger or logging.getLogger()).handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubbingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(ScrubbingFilter(scrubber))


def scrubbed_stderr_logging(scrubber: Scrubber) -> None:
    """For one-shot commands: warnings and errors to stderr (if nothing logs yet), scrubbed."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    scrub_logs(scrubber)
