"""A tiny HTML builder where escaping is the default: plain strings are always escaped, only
`Markup` built by this module (or by `svg`) is trusted.

Vendor text (model output excerpts, error messages, model names) reaches the report; a model's
output may well contain `<script>`. Building every element with `tag()` means no code path can
forget to escape, which a string template can't promise.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Union

Child = Union["Markup", str, int, float, None, Iterable["Child"]]


class Markup:
    """Trusted HTML. Only this module and `svg` construct it from raw strings."""

    __slots__ = ("html",)

    def __init__(self, trusted_html: str) -> None:
        self.html = trusted_html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"Markup({self.html[:40]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Markup) and other.html == self.html

    def __hash__(self) -> int:
        return hash(self.html)


def escape(value: Child) -> Markup:
    """Any child as HTML: Markup as is, text escaped (quotes too), iterables joined."""
    if value is None:
        return Markup("")
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return Markup(html.escape(value, quote=True))
    if isinstance(value, int | float):
        return Markup(html.escape(str(value)))
    return Markup("".join(escape(v).html for v in value))


VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col"})


def _attr_name(key: str) -> str:
    return key.rstrip("_").replace("_", "-")


def tag(element: str, /, *children: Child, **attrs: str | int | float | bool | None) -> Markup:
    """`tag("td", "a<b", class_="num")` → `<td class="num">a&lt;b</td>`.

    Attribute names come from code (`class_` → `class`, `aria_label` → `aria-label`); values are
    escaped; `True` writes a bare attribute, `None`/`False` omits it.
    """
    parts = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = _attr_name(key)
        parts.append(attr if value is True else f'{attr}="{html.escape(str(value), quote=True)}"')
    opening = "<" + " ".join(parts) + ">"
    if element in VOID:
        return Markup(opening)
    return Markup(opening + escape(children).html + f"</{element}>")


def join(items: Iterable[Child]) -> Markup:
    return escape(items)


def raw_css(css: str) -> Markup:
    """A stylesheet written in this package (never vendor text)."""
    if "</" in css:
        raise ValueError("a stylesheet must not contain '</'")
    return Markup(css)
