"""The tenant-facing Dash portal (``infermeter portal``).

``create_app(settings, store)`` builds the app; ``PortalServer`` serves it on a socket. Kept
lazy so that importing :mod:`.config` (from Settings) does not load Dash.
"""

from __future__ import annotations


def create_app(settings, store):
    from infermeter.dashboards.portal.app import create_app as _create

    return _create(settings, store)
