"""Sites of a clinic group, their public holidays, and which sites a staff member covers.

A new database (and every single-clinic install migrated by 0009_sites) has one site
built from CLINIC_NAME, CLINIC_TIMEZONE and CLINIC_HOLIDAYS; the first site (lowest id)
is the default wherever a site is not named, so a single clinic never has to name one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
)

from clinic.alerts.services import PatientFilter
from clinic.api.schemas import MAX_ID
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid, NotAllowed, NotFound
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling.models import Appointment, Device, Site, UserSite
from config import holiday_code_error

OTHER_SITES = "You work at other sites than this one."


def list_sites() -> Sequence[Site]:
    return db.session.scalars(select(Site).order_by(Site.id)).all()


def several_sites() -> bool:
    """Whether the clinic is a group: pages name an appointment's site only then."""
    return len(db.session.scalars(select(Site.id).limit(2)).all()) > 1


def get_site(site_id: int | None = None) -> Site:
    """The site by id, or the first site when None; 404 for an unknown id."""
    if site_id is None:
        site = db.session.scalar(select(Site).order_by(Site.id).limit(1))
        if site is None:
            raise NotFound("No site is set up.")
        return site
    site = db.session.get(Site, site_id) if 0 < site_id <= MAX_ID else None
    if site is None:
        raise NotFound(f"No site {site_id}.")
    return site


def site_tz(site: Site) -> ZoneInfo:
    return ZoneInfo(site.timezone)


def appointment_tz(appointment: Appointment) -> ZoneInfo:
    """The wall clock of an appointment: its chair's site's, where the session happens
    (09:00 at a site in Los Angeles is 09:00 there, whatever the clinic's zone). Every
    page, message and file that shows an appointment's time asks here."""
    return site_tz(appointment.device.site)


def _clean(field: str, value: Any) -> str:
    """A site field checked: a known IANA zone, a `holidays` code, a name."""
    text = value.strip() if isinstance(value, str) else ""
    if field == "name":
        if not text or len(text) > 120:
            raise Invalid("A site needs a name.", fields={"name": ["1 to 120 characters."]})
        return text
    if field == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(
                "Unknown time zone.", fields={"timezone": ["An IANA zone like Europe/Paris."]}
            ) from None
        return text
    problem = holiday_code_error(text)
    if problem:
        raise Invalid("Unknown holidays code.", fields={"holidays": [problem]})
    return text


def _ensure_unique_name(name: str, site_id: int | None = None) -> None:
    query = select(Site.id).where(func.lower(Site.name) == name.lower())
    if site_id is not None:
        query = query.where(Site.id != site_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A site named {name!r} already exists.",
            code="site_exists",
            fields={"name": ["Already in use."]},
        )


def create_site(*, name: str, timezone: str, holidays: str, actor_id: int | None) -> Site:
    site = Site(
        name=_clean("name", name),
        timezone=_clean("timezone", timezone),
        holidays=_clean("holidays", holidays),
    )
    _ensure_unique_name(site.name)
    db.session.add(site)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "site", site.id, detail={"name": site.name})
    return site


def update_site(site_id: int, *, actor_id: int | None, **changes: Any) -> Site:
    """Rename a site, move its clock or change its public holidays. Appointments keep
    their instants; the hours are the site's wall clock, so they follow the new zone."""
    site = get_site(site_id)
    for field in ("name", "timezone", "holidays"):
        if field in changes:
            setattr(site, field, _clean(field, changes[field]))
    if "name" in changes:
        _ensure_unique_name(site.name, site.id)
    db.session.flush()
    record(actor_id, AuditAction.UPDATE, "site", site.id, detail={"changed": sorted(changes)})
    return site


# -- public holidays -------------------------------------------------------------------


@lru_cache(maxsize=256)
def _holidays_of_year(code: str, year: int) -> dict[date, str]:
    country, _, subdivision = code.partition("-")
    found = holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=year)
    return dict(found.items())


def public_holidays(code: str, first: date, last: date) -> dict[date, str]:
    """The public holidays of a `holidays` code between two dates, observed days included
    (July 4th on a Sunday closes Monday the 5th too)."""
    if code == "none" or last < first:
        return {}
    found: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        found.update(
            (day, name)
            for day, name in _holidays_of_year(code, year).items()
            if first <= day <= last
        )
    return found


# -- staff limited to sites ------------------------------------------------------------


def user_site_ids(user_id: int | None) -> set[int] | None:
    """The sites a user is limited to, or None when they cover every site."""
    if user_id is None:
        return None
    found = set(db.session.scalars(_user_sites_query(), {"user_id": user_id}))
    return found or None


@cache
def _user_sites_query() -> Select[int]:
    """Built once: every list, page and API read limited to sites asks it."""
    return select(UserSite.site_id).where(UserSite.user_id == bindparam("user_id"))


@cache
def _sites_for_user_query() -> Select[Site, int | None]:
    """Built once: every page of a site asks it."""
    mine = and_(UserSite.site_id == Site.id, UserSite.user_id == bindparam("user_id"))
    return select(Site, UserSite.user_id).outerjoin(UserSite, mine).order_by(Site.id)


def sites_for_user(user_id: int) -> tuple[list[Site], set[int] | None]:
    """Every site in id order and the ones the user is limited to (None: every site), in
    one query: a per-site page asks both."""
    rows = db.session.execute(_sites_for_user_query(), {"user_id": user_id}).all()
    allowed = {site.id for site, limited in rows if limited is not None}
    return [site for site, _limited in rows], allowed or None


MULTI_SITE_ROLES = (Role.ADMIN, Role.CLINICIAN)
"""Who may cover several sites; the front desk and technicians work at one (or, not
limited, at every site: a single clinic limits nobody)."""


def set_user_sites(user_id: int, site_ids: Collection[int], *, actor_id: int | None) -> set[int]:
    """Limit a user to these sites (empty: every site); several only for admins and
    clinicians (422 otherwise)."""
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"No user {user_id}.")
    wanted = set(site_ids)
    if len(wanted) > 1 and user.role not in MULTI_SITE_ROLES:
        raise Invalid(
            "The front desk and technicians work at one site.",
            fields={"site_ids": ["Pick one site (admins and clinicians may cover several)."]},
        )
    for site_id in wanted:
        get_site(site_id)
    db.session.execute(delete(UserSite).where(UserSite.user_id == user.id))
    db.session.add_all(UserSite(user_id=user.id, site_id=site_id) for site_id in sorted(wanted))
    db.session.flush()
    record(actor_id, AuditAction.UPDATE, "user", user.id, detail={"sites": sorted(wanted)})
    return wanted


def refuse_one_site_role_over_sites(
    _sender: object, *, user: User, role: str, actor_id: int | None
) -> None:
    """A role change to the front desk or technician of a user covering several sites is
    refused (422), never trimmed silently: the admin picks their one site first."""
    covered = user_site_ids(user.id) or set()
    if len(covered) > 1 and role not in MULTI_SITE_ROLES:
        message = (
            f"{user.name} works at {len(covered)} sites; the front desk and technicians "
            "work at one. Choose their one site first, then change the role."
        )
        raise Invalid(message, fields={"role": [message]})


def require_site(actor_id: int | None, site_id: int) -> None:
    """403 when the actor is limited to other sites: they see and book only theirs."""
    require_site_in(user_site_ids(actor_id), site_id)


def require_site_in(allowed: set[int] | None, site_id: int) -> None:
    """`require_site` for a page that already read the actor's sites (`user_site_ids`)."""
    if allowed is not None and site_id not in allowed:
        raise NotAllowed(OTHER_SITES)


def require_appointment_site(actor_id: int | None, appointment: Appointment) -> None:
    """403 when the actor works at other sites than the appointment's: they neither see
    nor change it."""
    require_site(actor_id, appointment.device.site_id)


def works_at(allowed: set[int] | None, site_id: int) -> bool:
    """Whether `require_site_in` lets this through: pages offer only what would succeed."""
    return allowed is None or site_id in allowed


def held_at(site_ids: Collection[int] | Select[Any] | BindParameter[Any]) -> ColumnElement[bool]:
    """SQL: an appointment is on a chair of these sites. The one test every list limited
    to sites applies, so that they all agree on what "at a site" means."""
    return Appointment.device_id.in_(select(Device.id).where(Device.site_id.in_(site_ids)))


def booked_at(
    column: Any, value: Any, site_ids: Collection[int] | Select[Any]
) -> ColumnElement[bool]:
    """SQL: an appointment, whatever its status, on the chairs of these sites, whose
    `column` (its id, patient_id or course_id) is `value` (the outer row's column).

    Asked row by row through that column's index, so a list costs what its own rows
    do: as a set ("patient_id IN every appointment there") it read the sites' whole
    history at each request (the alerts badge, on every page of a user limited to sites
    while an urgent alert is open: 22 ms of a 26 ms page at 81,621 appointments)."""
    return exists(select(Appointment.id).where(column == value, held_at(site_ids)))


def alert_patients(user_id: int | BindParameter[int] | None) -> PatientFilter:
    """Whose alerts a user sees (`clinic.alerts` asks, as `patient_scope`), as a SQL test
    of a patient id costing no statement of its own: every patient's for a user not
    limited to sites; else a patient with an appointment at one of their sites, and,
    so that no safety alert is hidden from every clinician, a patient with no
    appointment at a site that an active clinician works at (none yet, say). The user may
    be a bound parameter (the navigation's badge: one statement for every user)."""
    mine = select(UserSite.site_id).where(UserSite.user_id == user_id)
    clinicians = select(User.id).where(User.active.is_(True), User.role == Role.CLINICIAN)
    everywhere = exists(clinicians.where(~exists().where(UserSite.user_id == User.id)))
    covered = or_(
        everywhere,
        Device.site_id.in_(select(UserSite.site_id).where(UserSite.user_id.in_(clinicians))),
    )

    def visible(patient_id: Any) -> ColumnElement[bool]:
        return or_(
            ~mine.exists(),
            booked_at(Appointment.patient_id, patient_id, mine),
            ~exists(
                select(Appointment.id)
                .join(Device, Device.id == Appointment.device_id)
                .where(Appointment.patient_id == patient_id, covered)
            ),
        )

    return visible


def visible_sites(actor_id: int | None, site_id: int | None) -> set[int] | None:
    """The sites a read is limited to: the one asked for (403 if the actor works
    elsewhere), else the actor's sites; None: every site."""
    if site_id is not None:
        get_site(site_id)
        require_site(actor_id, site_id)
        return {site_id}
    return user_site_ids(actor_id)
