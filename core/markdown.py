"""Markdown people write (project descriptions, decision context and rationales, comments) as safe HTML.

One renderer for every surface: CommonMark (markdown-it-py) with raw HTML off, so `<script>` and every
other tag someone types is shown as text; then nh3 (ammonia) keeps only the tags and attributes below and
http(s)/mailto links, which get rel="nofollow noopener". Images are not rendered (an image from anywhere
would track who reads the page and is refused by our Content-Security-Policy anyway): `![alt](url)` is
its alt text. What is stored is what was written; this runs when it is shown.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "commonmark" with html=False: raw HTML blocks and inline tags are escaped, not passed through.
    # linkify stays off (it needs an extra package); tables and strikethrough are GFM's.
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_text)
    return parser


def _image_as_text(self, tokens, idx, options, env):
    token = tokens[idx]
    return self.renderInline(token.children or [], options, env)


def render_markdown(text: str | None) -> str:
    """Sanitized HTML for `text` (empty for nothing). Never raises on what a person typed."""
    if not text:
        return ""
    html = _parser().render(str(text))
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=LINK_REL,
                     clean_content_tags={"script", "style"})
