"""Reactions to other features' events: a role change asks the sites rule first."""

from __future__ import annotations

from clinic import events
from clinic.scheduling.sites import refuse_one_site_role_over_sites


def connect() -> None:
    events.user_role_changing.connect(refuse_one_site_role_over_sites, weak=False)
