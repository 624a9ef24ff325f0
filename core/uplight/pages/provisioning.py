"""Config pages → database, at start and on reload.

The config is the source of truth for the pages it declares: they are written
exactly as declared (title, hostname, default, components with their order),
provisioned pages the config no longer declares are deleted, and pages created
through the API are never touched — with one exception, decided here:

A config page whose slug is already used by an API-created page is **refused**:
it is not provisioned, and the API page is left exactly as it was (title,
components, hostname, default). A takeover would replace the API page's
components, and removing the config page later would delete the page outright,
destroying data nobody put in the file. The refusal is logged as an error
naming ``pages[i].slug``; rename the config page, or delete the API page and
reload, to resolve it. An API page does lose a hostname the config claims, and
the default flag when the config names a default page (both logged as warnings).
"""

from __future__ import annotations

import datetime as dt
import logging

from ..config import Config, PageConfig
from ..db.store import Store
from .provisioning_store import (
    ProvisionedComponent,
    ProvisionedPage,
    SyncReport,
    sync_provisioned_pages,
)

log = logging.getLogger(__name__)


def provisioned_pages(config: Config) -> list[ProvisionedPage]:
    return [_page(index, page) for index, page in enumerate(config.pages)]


def _page(index: int, page: PageConfig) -> ProvisionedPage:
    return ProvisionedPage(
        config_index=index,
        slug=page.slug,
        title=page.title,
        hostname=page.hostname.lower() if page.hostname else None,
        default=page.default,
        components=tuple(
            ProvisionedComponent(
                monitor_id=c.monitor,
                public_name=c.public_name,
                public_description=c.public_description,
                public_group=c.public_group,
                sort_order=c.sort_order,
            )
            for c in page.components
        ),
    )


async def provision_pages(store: Store, config: Config, now: dt.datetime) -> SyncReport:
    """Write the config's pages to the database; log what changed."""
    report = await sync_provisioned_pages(store, provisioned_pages(config), now)
    source = config.source.name if config.source else "the config"
    index = {page.slug: i for i, page in enumerate(config.pages)}
    for slug in report.refused:
        log.error(
            "%s pages[%d].slug = %r is already used by a page created through the API: "
            "the config page is not provisioned and the API page is left as it is "
            "(rename the config page, or delete the API page and reload)",
            source,
            index[slug],
            slug,
        )
    for slug, hostname in report.hostnames_released:
        log.warning(
            "page %r (created through the API) lost hostname %r: %s claims it",
            slug,
            hostname,
            source,
        )
    for slug in report.default_released:
        log.warning(
            "page %r (created through the API) is no longer the default: %s names its own",
            slug,
            source,
        )
    if report.created or report.updated or report.removed:
        log.info(
            "pages provisioned from %s: %d created, %d updated, %d removed",
            source,
            len(report.created),
            len(report.updated),
            len(report.removed),
        )
    return report
