"""Markdown from posts and organizers comes out rendered and harmless."""

from __future__ import annotations

from services.richtext import render, shift_headings


def test_footnotes_tables_and_inline_html_render() -> None:
    html = render("A claim[^1]<br>next line\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[^1]: The source.\n")
    assert "<table>" in html and "<td>1</td>" in html
    assert "<br>" in html
    assert 'href="#fn1"' in html and "The source." in html


def test_images_keep_their_size_and_alt_text() -> None:
    html = render('<img src="https://example.org/logo.png" alt="logo" width="400"/>')
    assert 'src="https://example.org/logo.png"' in html and 'alt="logo"' in html and 'width="400"' in html


def test_scripts_handlers_and_javascript_links_are_removed() -> None:
    html = render(
        '<script>alert(1)</script><img src="x.png" onerror="alert(2)">'
        '<a href="javascript:alert(3)">x</a> [y](javascript:alert(4)) <iframe src="https://evil.example"></iframe>'
    )
    assert "<script" not in html and "alert(1)" not in html
    assert "onerror" not in html
    assert 'href="javascript' not in html
    assert "<iframe" not in html


def test_links_open_without_leaking_the_referrer() -> None:
    assert 'rel="noopener noreferrer"' in render("[site](https://example.org)")


def test_headings_are_demoted_below_the_page_title() -> None:
    assert shift_headings("<h1>A</h1><h2>B</h2>", 2) == "<h3>A</h3><h4>B</h4>"


def test_nothing_renders_to_nothing() -> None:
    assert render(None) == "" and render("") == ""
