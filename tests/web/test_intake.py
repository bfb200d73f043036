"""The intake page: one form registers, insures, consents and screens a patient, offers an
existing record first, and keeps everything typed when it is refused."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from clinic.audit.models import AuditAction, AuditEvent
from clinic.documents.models import ConsentSignature, Document
from clinic.errors import Conflict, Invalid
from clinic.extensions import db
from clinic.patients.intake import create_patient
from clinic.patients.models import Authorization, Patient, Screening
from clinic.patients.screening import SCREENING_ITEMS
from clinic.web.intake import ConsentGiven, ScreeningAnswers, take_intake
from tests.factories import count, login
from tests.patients.conftest import answers

IDENTITY = {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": "1980-05-17"}
INSURANCE = {
    "insurance-payer": "Aetna",
    "insurance-member_id": "W123456789",
    "insurance-sessions_authorized": "36",
    "insurance-status": "requested",
}
CONSENT = {
    "consent-signer_name": "Jamie Rivera",
    "consent-method": "typed",
    "consent-typed_signature": "Jamie Rivera",
}


def screening(*yes: str) -> dict[str, str]:
    return {f"screening-{code}": "yes" if value else "no" for code, value in answers(*yes).items()}


def nothing_saved() -> bool:
    return count(Patient) == count(Authorization) == count(Screening) == 0


def test_the_list_leads_to_the_intake_page(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    page = client.get("/patients/").get_data(as_text=True)
    assert 'href="/intake"' in page
    form = client.get("/intake").get_data(as_text=True)
    for part in ("Identity", "Insurance and prior authorization", "TMS consent", "All no"):
        assert part in form
    assert 'hx-get="/intake/duplicates"' in form


def test_one_submission_registers_insures_consents_and_screens(
    client: Any, front_desk: Any
) -> None:
    login(client, front_desk)
    response = client.post(
        "/intake",
        data={
            **IDENTITY,
            "phone": "212 555 0123",
            "preferred_channel": "sms",
            "sms_consent": "y",
            **INSURANCE,
            **CONSENT,
            **screening("pregnancy"),
        },
    )
    assert response.status_code == 302
    patient = db.session.scalars(select(Patient)).one()
    assert response.headers["Location"].endswith(f"/patients/{patient.id}")
    assert patient.sms_consent and patient.phone == "+12125550123"
    authorization = db.session.scalars(select(Authorization)).one()
    assert (authorization.payer, authorization.member_id, authorization.status) == (
        "Aetna",
        "W123456789",
        "requested",
    )
    signature = db.session.scalars(select(ConsentSignature)).one()
    assert signature.patient_id == patient.id and signature.method == "typed"
    recorded = db.session.scalars(select(Screening)).one()
    assert recorded.result == "review" and recorded.positive_items == ["pregnancy"]
    chart = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Jamie Rivera registered with MRN {patient.mrn}" in chart
    assert "screening recorded: review" in chart


def test_all_no_still_records_every_answer(client: Any, front_desk: Any) -> None:
    """What the "All no" button sends: fifteen explicit answers, each one stored."""
    login(client, front_desk)
    assert client.post("/intake", data={**IDENTITY, **screening()}).status_code == 302
    recorded = db.session.scalars(select(Screening)).one()
    assert recorded.answers == {item.code: False for item in SCREENING_ITEMS}
    assert recorded.result == "clear"


def test_identity_alone_registers_and_skips_the_untouched_parts(
    client: Any, front_desk: Any
) -> None:
    login(client, front_desk)
    data = {**IDENTITY, "insurance-status": "draft", "consent-method": "drawn"}
    assert client.post("/intake", data=data).status_code == 302
    assert count(Patient) == 1
    assert count(Authorization) == count(Screening) == count(ConsentSignature) == 0


def test_a_half_answered_screening_is_refused_with_everything_kept(
    client: Any, front_desk: Any
) -> None:
    login(client, front_desk)
    half = dict(list(screening("pregnancy").items())[:5])
    response = client.post(
        "/intake",
        data={**IDENTITY, "phone": "212 555 0123", **INSURANCE, **CONSENT, **half},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count("Answer yes or no.") >= len(SCREENING_ITEMS) - 5
    for kept in ('value="Jamie"', 'value="212 555 0123"', 'value="Aetna"', 'value="W123456789"'):
        assert kept in page
    assert 'value="Jamie Rivera"' in page  # the signer and the typed signature
    assert nothing_saved()


def test_a_refusal_of_a_later_part_leaves_nothing_registered(client: Any, front_desk: Any) -> None:
    """The service refuses the authorization (its end before its start) after the patient
    was inserted: the whole intake is rolled back, and the message is on its field."""
    login(client, front_desk)
    response = client.post(
        "/intake",
        data={
            **IDENTITY,
            **INSURANCE,
            "insurance-valid_from": "2026-03-01",
            "insurance-valid_to": "2026-02-01",
            **screening(),
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Must not be before valid from." in page
    assert 'value="2026-02-01"' in page and 'value="Aetna"' in page
    assert nothing_saved()


def test_a_possible_duplicate_is_offered_first_and_may_be_overridden(
    client: Any, front_desk: Any
) -> None:
    existing = create_patient(
        {"first_name": "José", "last_name": "Núñez", "date_of_birth": date(1970, 1, 1)},
        actor_id=None,
    )
    db.session.commit()
    login(client, front_desk)
    typed = {"first_name": "jose\u0301", "last_name": "NÚÑEZ", "date_of_birth": "1970-01-01"}
    live = client.get("/intake/duplicates", query_string=typed).get_data(as_text=True)
    assert f"Open the record with MRN {existing.mrn}" in live
    assert "This is another person: register anyway" in live

    refused = client.post("/intake", data={**typed, **INSURANCE, **screening()})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert f"Open the record with MRN {existing.mrn}" in page and 'value="Aetna"' in page
    assert count(Patient) == 1 and count(Screening) == 0

    anyway = {**typed, **INSURANCE, **screening(), "allow_duplicate": "y"}
    assert client.post("/intake", data=anyway).status_code == 302
    assert count(Patient) == 2 and count(Screening) == 1


def test_the_live_check_says_nothing_until_it_can_and_is_audited(
    client: Any, front_desk: Any
) -> None:
    create_patient(
        {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": date(1980, 5, 17)},
        actor_id=None,
    )
    db.session.commit()
    login(client, front_desk)
    partial = {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": ""}
    assert "may already be registered" not in client.get(
        "/intake/duplicates", query_string=partial
    ).get_data(as_text=True)
    other = {**IDENTITY, "date_of_birth": "1981-05-17"}
    assert client.get("/intake/duplicates", query_string=other).get_data(as_text=True) == ""
    searches = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.SEARCH)
    ).all()
    assert [event.detail for event in searches] == [{"results": 0, "check": "duplicate"}]


def test_insurance_is_only_for_roles_that_manage_authorizations(
    client: Any, clinician: Any
) -> None:
    login(client, clinician)
    page = client.get("/intake").get_data(as_text=True)
    assert "Insurance and prior authorization" not in page
    assert client.post("/intake", data={**IDENTITY, **INSURANCE}).status_code == 302
    assert count(Patient) == 1 and count(Authorization) == 0


def test_technicians_may_not_register(client: Any, technician: Any) -> None:
    login(client, technician)
    assert 'href="/intake"' not in client.get("/patients/").get_data(as_text=True)
    assert client.get("/intake").status_code == 403
    assert client.get("/intake/duplicates", query_string=IDENTITY).status_code == 403


def test_the_service_names_the_part_a_refusal_came_from(app: Any, front_desk: Any) -> None:
    values = {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": date(1980, 5, 17)}
    with pytest.raises(Invalid) as refused:
        take_intake(
            values,
            actor_id=front_desk.id,
            screening=ScreeningAnswers({"pregnancy": True}),
        )
    assert refused.value.details["section"] == "screening"
    assert "screening.answers.metal_in_head" in refused.value.fields
    db.session.rollback()

    with pytest.raises(Invalid) as unsigned:
        take_intake(
            values,
            actor_id=front_desk.id,
            consent=ConsentGiven(signer_name="Jamie Rivera", method="typed", signature="J R"),
        )
    assert unsigned.value.details["section"] == "consent"
    assert "consent.signature" in unsigned.value.fields
    db.session.rollback()

    done = take_intake(values, actor_id=front_desk.id, screening=ScreeningAnswers(answers()))
    assert done.screening is not None and done.authorization is None and done.consent is None
    with pytest.raises(Conflict) as duplicate:
        take_intake(values, actor_id=front_desk.id)
    assert duplicate.value.code == "possible_duplicate"
    assert duplicate.value.details["section"] == "patient"
    assert duplicate.value.details["matches"] == [{"id": done.patient.id, "mrn": done.patient.mrn}]
    assert count(Document) == 0


@pytest.mark.parametrize(
    "typed",
    [
        {"first_name": "Ja\x00mie", "last_name": "Rivera", "date_of_birth": "1980-05-17"},
        {"first_name": "Jamie", "last_name": "R" * 500, "date_of_birth": "1980-05-17"},
        {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": "17/05/1980"},
        {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": "2999-01-01"},
    ],
)
def test_the_live_check_ignores_what_registration_would_refuse(
    client: Any, front_desk: Any, typed: dict[str, str]
) -> None:
    login(client, front_desk)
    response = client.get("/intake/duplicates", query_string=typed)
    # A NUL never reaches the view: the app refuses it in any query string (422).
    assert response.status_code in (200, 422)
    assert "may already be registered" not in response.get_data(as_text=True)


def test_every_page_leads_to_intake_for_who_registers(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    schedule = client.get("/schedule").get_data(as_text=True)
    assert re.search(r'<a href="/intake">.*New patient</a>', schedule)
    assert 'href="/intake" aria-current="page"' in client.get("/intake").get_data(as_text=True)
