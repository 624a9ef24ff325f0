"""Configuration: TOML → validated, immutable ``Config``; every error carries its TOML path.

``loader`` reads and parses, ``models`` holds the tables, ``cross_checks`` the
rules that span tables. Import from here: ``from uplight.config import Config``.
"""

from .loader import *  # noqa: F403
from .loader import __all__ as __all__
