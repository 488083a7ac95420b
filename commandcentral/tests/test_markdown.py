"""Markdown people write is shown as sanitized HTML on every surface: nothing they type runs in a reader's browser."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from core.markdown import render_markdown
from decisions.tests.factories import DecisionFactory

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "javascript link": "[click](javascript:alert(1))",
    "mixed-case javascript link": "[click](JaVaScRiPt:alert(1))",
    "data link": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "onerror": '<img src="x" onerror="alert(1)">',
    "raw html": '<div style="position:fixed" onclick="alert(1)">over everything</div>',
    "iframe": '<iframe src="https://example.com"></iframe>',
    "autolink javascript": "<javascript:alert(1)>",
}


class Elements(HTMLParser):
    """The tags and attributes a browser would build from the HTML (text that merely reads like a tag is text)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_nothing_hostile_survives(text):
    elements = Elements(render_markdown(text)).tags

    assert {tag for tag, _ in elements} <= {"p", "a"}
    for tag, attributes in elements:
        assert not [name for name in attributes if name.startswith("on") or name == "style"]
        href = attributes.get("href", "").lower()
        assert not href.startswith(("javascript:", "data:", "vbscript:"))


def test_raw_html_is_shown_as_text_not_dropped():
    assert render_markdown("<b>bold?</b>") == "<p>&lt;b&gt;bold?&lt;/b&gt;</p>\n"


def test_commonmark_is_rendered_and_links_get_rel():
    html = render_markdown("**Why** _now_\n\n- one\n- two\n\n[the RFC](https://example.com/rfc \"RFC\")")

    assert "<strong>Why</strong> <em>now</em>" in html
    assert "<ul>\n<li>one</li>" in html
    assert '<a href="https://example.com/rfc" title="RFC" rel="nofollow noopener">the RFC</a>' in html


def test_images_become_their_alt_text_and_nothing_is_empty():
    assert render_markdown("![a diagram](https://tracker.example.com/pixel.png)") == "<p>a diagram</p>\n"
    assert render_markdown("") == render_markdown(None) == ""


def test_the_decision_page_renders_context_and_rationale_as_markdown(client, project, owner):
    decision = DecisionFactory(project=project, context="**Load** doubled. <script>alert(1)</script>",
                               rationale="See [the numbers](javascript:alert(1)) and [ours](https://example.com).",
                               selected_option="a")
    client.force_login(owner)

    page = client.get(reverse("decision_detail", args=[decision.pk])).content.decode()

    assert "<strong>Load</strong> doubled. &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://example.com" rel="nofollow noopener">ours</a>' in page
    assert 'href="javascript:' not in page


def test_the_project_page_renders_its_description_as_markdown(client, project, owner):
    project.description = "A *small* service.\n\n<img src=x onerror=alert(1)>"
    project.save()
    client.force_login(owner)

    page = client.get(reverse("project_detail", args=[project.pk])).content.decode()

    assert "A <em>small</em> service." in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_api_returns_the_text_and_its_html(api_client, project, owner):
    decision = DecisionFactory(project=project, context="# Heading\n<script>x</script>")
    api_client.force_authenticate(owner)

    body = api_client.get(f"/api/v1/decisions/{decision.pk}/").json()

    assert body["context"] == "# Heading\n<script>x</script>"
    assert body["context_html"] == "<h1>Heading</h1>\n<p>&lt;script&gt;x&lt;/script&gt;</p>\n"
    assert body["rationale_html"] == ""
