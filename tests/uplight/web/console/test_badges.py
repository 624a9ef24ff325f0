"""Badge snippets: the public badge route under public_base_url, linked to the page's
own public URL, with text that cannot break out of the Markdown or the HTML."""

from __future__ import annotations

import datetime as dt

from uplight.pages.models import StoredComponent, StoredPage
from uplight.web.console.badges import component_snippet, page_snippet

BASE = "https://status.example.org"
NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def stored_page(**fields: object) -> StoredPage:
    values: dict[str, object] = {
        "slug": "ops",
        "title": "Operations",
        "hostname": None,
        "default": False,
        "provisioned": False,
        "config_index": None,
        "created_at": NOW,
        "updated_at": NOW,
        "components": (),
        **fields,
    }
    return StoredPage(**values)  # type: ignore[arg-type]


def test_a_page_badge_links_to_the_page() -> None:
    snippet = page_snippet(BASE, stored_page())
    image = f"{BASE}/api/public/v1/badge.svg?page=ops"
    assert snippet.markdown == f"[![Operations]({image})]({BASE}/status/pages/ops)"
    assert snippet.html == (
        f'<a href="{BASE}/status/pages/ops"><img src="{image}" alt="Operations"></a>'
    )
    assert snippet.preview == "/api/public/v1/badge.svg?page=ops"
    assert page_snippet(BASE, stored_page(default=True)).link == f"{BASE}/status"


def test_a_page_with_a_hostname_links_to_that_host() -> None:
    snippet = page_snippet(BASE, stored_page(hostname="ops.example.org"))
    assert snippet.link == "https://ops.example.org/status"
    assert snippet.image == f"{BASE}/api/public/v1/badge.svg?page=ops"  # any host serves it


def test_a_component_badge_names_its_public_id_and_escapes_its_name() -> None:
    component = StoredComponent("db", "c_12ab", None, None, None, 1)
    snippet = component_snippet(BASE, stored_page(), component, 'DB [main] "<primary>" & co')
    image = f"{BASE}/api/public/v1/badge.svg?page=ops&component=c_12ab"
    assert snippet.markdown == (
        f'[![DB \\[main\\] "<primary>" & co]({image})]({BASE}/status/pages/ops)'
    )
    assert snippet.html == (
        f'<a href="{BASE}/status/pages/ops">'
        f'<img src="{image.replace("&", "&amp;")}" alt="DB [main] &#34;&lt;primary&gt;&#34; &amp; co">'
        "</a>"
    )


def test_a_parenthesis_in_the_base_url_cannot_end_the_markdown_link() -> None:
    snippet = page_snippet("https://example.org/status(1)", stored_page())
    assert "(https://example.org/status%281%29/api/public/v1/badge.svg?page=ops)" in (
        snippet.markdown
    )
