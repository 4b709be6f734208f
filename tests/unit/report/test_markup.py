"""The HTML builder escapes by default: only Markup it built itself is trusted."""

import pytest

from monitor.report.markup import Markup, escape, raw_css, tag


def test_text_is_escaped() -> None:
    assert tag("td", "<script>alert(1)</script>").html == (
        "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
    )


def test_attribute_values_are_escaped_with_quotes() -> None:
    html = tag("span", "x", title='"><script>alert(1)</script>').html
    assert html == '<span title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">x</span>'


def test_attribute_names_and_flags() -> None:
    assert tag("td", 3, class_="num").html == '<td class="num">3</td>'
    assert tag("svg", aria_label="a").html == '<svg aria-label="a"></svg>'
    assert tag("input", disabled=True, hidden=False, value=None).html == "<input disabled>"


def test_nested_markup_is_kept_and_lists_are_joined() -> None:
    inner = tag("b", "a&b")
    assert tag("p", [inner, " & ", None, 1.5]).html == "<p><b>a&amp;b</b> &amp; 1.5</p>"


def test_escape_passes_markup_through() -> None:
    m = Markup("<i>x</i>")
    assert escape(m) is m


def test_stylesheet_cannot_close_its_element() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        raw_css("a{}</style><script>")
