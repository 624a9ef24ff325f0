"""Ready-to-copy badge snippets for a status page and its components.

The image is the public badge route (``GET /api/public/v1/badge.svg``, see
docs/status-page.md) under ``[server] public_base_url``, always with ``?page=<slug>``
so a README badge keeps showing the same page when another page becomes the default;
a component's badge adds ``&component=<public id>``. The link is the page's own
public URL (its hostname's origin, when it has one), as the page's RSS and JSON
publish it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import escape

from ...pages.models import StoredComponent, StoredPage
from ...pages.views import page_url

BADGE_PATH = "/api/public/v1/badge.svg"


@dataclass(frozen=True, slots=True)
class Snippet:
    label: str  # the image's alt text: the page title or the component's public name
    image: str  # absolute badge URL
    link: str  # absolute URL of the public page
    preview: str  # the same badge on the console's own origin (the CSP allows only 'self')

    @property
    def markdown(self) -> str:
        return f"[![{_markdown_text(self.label)}]({_markdown_url(self.image)})]({_markdown_url(self.link)})"

    @property
    def html(self) -> str:
        return f'<a href="{escape(self.link)}"><img src="{escape(self.image)}" alt="{escape(self.label)}"></a>'


def badge_query(slug: str, public_id: str | None = None) -> str:
    query = {"page": slug}
    if public_id is not None:
        query["component"] = public_id
    return f"{BADGE_PATH}?{urlencode(query)}"


def page_snippet(base_url: str, page: StoredPage) -> Snippet:
    return _snippet(base_url, page, page.title or "status", None)


def component_snippet(
    base_url: str, page: StoredPage, component: StoredComponent, name: str
) -> Snippet:
    return _snippet(base_url, page, name, component.public_id)


def _snippet(base_url: str, page: StoredPage, label: str, public_id: str | None) -> Snippet:
    path = badge_query(page.slug, public_id)
    return Snippet(label=label, image=base_url + path, link=page_url(base_url, page), preview=path)


def _markdown_text(text: str) -> str:
    # Brackets and backslashes would end or bend the alt text.
    for char in "\\[]":
        text = text.replace(char, "\\" + char)
    return text


def _markdown_url(url: str) -> str:
    # A parenthesis or a space in a configured base URL would end the destination.
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
