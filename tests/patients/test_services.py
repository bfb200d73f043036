"""Intake rules, called the way every entry path calls them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.errors import Conflict, Invalid, NotAllowed, NotFound
from clinic.extensions import db
from clinic.patients.intake import (
    create_patient,
    find_duplicate,
    luhn_digit,
    update_patient,
)
from clinic.patients.lookup import get_patient, view_patient
from clinic.patients.models import ConsentEvent, Patient, Screening
from clinic.patients.records import (
    add_authorization,
    add_medication_trial,
    delete_medication_trial,
    list_medication_trials,
    update_authorization,
    update_medication_trial,
)
from clinic.patients.screening import (
    ITEMS_BY_CODE,
    SCREENING_ITEMS,
    latest_screening,
    list_screenings,
    record_screening,
    sign_off_screening,
)
from clinic.patients.search import search_patients
from tests.factories import count, make_patient
from tests.patients.conftest import answers, intake

FROZEN = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def fields_of(exc: pytest.ExceptionInfo[Invalid]) -> dict[str, list[str]]:
    return exc.value.fields


def test_create_trims_names_and_gives_a_unique_checked_mrn(app: Any, front_desk: Any) -> None:
    patient = create_patient(
        intake(first_name="  Jamie ", last_name=" Rivera"), actor_id=front_desk.id
    )
    other = create_patient(intake(), actor_id=front_desk.id, allow_duplicate=True)
    db.session.commit()
    assert (patient.first_name, patient.last_name) == ("Jamie", "Rivera")
    assert len(patient.mrn) == 8 and patient.mrn.isdigit()
    assert luhn_digit(patient.mrn[:7]) == patient.mrn[7]
    assert patient.mrn != other.mrn
    assert patient.preferred_channel == "none" and patient.sms_consent is False


def test_mrn_clash_is_retried_under_the_unique_key(
    app: Any, front_desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = create_patient(intake(), actor_id=front_desk.id).mrn
    draws = iter([taken, taken, "12345674"])
    monkeypatch.setattr("clinic.patients.intake.new_mrn", lambda: next(draws))
    patient = create_patient(intake(first_name="Alex"), actor_id=front_desk.id)
    db.session.commit()
    assert patient.mrn == "12345674"
    assert count(Patient) == 2


def test_mrn_gives_up_with_a_conflict_after_repeated_clashes(
    app: Any, front_desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = create_patient(intake(), actor_id=front_desk.id).mrn
    monkeypatch.setattr("clinic.patients.intake.new_mrn", lambda: taken)
    with pytest.raises(Conflict) as exc:
        create_patient(intake(first_name="Alex"), actor_id=front_desk.id)
    assert exc.value.code == "mrn_unavailable"
    db.session.commit()
    assert count(Patient) == 1


INVALID_INTAKE = (
    ({"first_name": "   "}, "first_name"),
    ({"last_name": "x" * 101}, "last_name"),
    ({"date_of_birth": None}, "date_of_birth"),
    ({"date_of_birth": date(1899, 12, 31)}, "date_of_birth"),
    ({"date_of_birth": date(2026, 3, 3)}, "date_of_birth"),
    ({"sex": "robot"}, "sex"),
    ({"email": "not-an-email"}, "email"),
    ({"phone": "12"}, "phone"),
    ({"preferred_channel": "pigeon"}, "preferred_channel"),
    ({"preferred_channel": "sms"}, "preferred_channel"),
    ({"preferred_channel": "email"}, "preferred_channel"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"diagnoses": ["F33.1", "depression"]}, "diagnoses"),
    ({"pain_duration_months": -1}, "pain_duration_months"),
    ({"first_name": "Ja\x00mie"}, "first_name"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
)


@time_machine.travel(FROZEN, tick=False)
def test_invalid_values_are_refused_with_a_field_message(app: Any, front_desk: Any) -> None:
    for overrides, field in INVALID_INTAKE:
        with pytest.raises(Invalid) as exc:
            create_patient(intake(**overrides), actor_id=front_desk.id)
        assert exc.value.status == 422
        assert fields_of(exc)[field][0], overrides
        db.session.rollback()
    assert count(Patient) == 0


def test_every_problem_is_reported_at_once(app: Any, front_desk: Any) -> None:
    with pytest.raises(Invalid) as exc:
        create_patient({"first_name": "", "email": "x@", "phone": "abc"}, actor_id=front_desk.id)
    assert {"first_name", "last_name", "date_of_birth", "email", "phone"} <= set(exc.value.fields)


def test_contact_details_are_normalised(app: Any, front_desk: Any) -> None:
    patient = create_patient(
        intake(
            sex="F",
            email="Jamie.Rivera@Example.ORG",
            phone="(212) 555-0123",
            emergency_contact_phone="+44 20 7946 0958",
            preferred_channel="sms",
            timezone="America/Chicago",
        ),
        actor_id=front_desk.id,
    )
    assert patient.sex == "female"
    assert patient.email == "Jamie.Rivera@example.org"
    assert patient.phone == "+12125550123"
    assert patient.emergency_contact_phone == "+442079460958"
    assert patient.timezone == "America/Chicago"


def test_diagnoses_are_normalised_deduplicated_and_described(app: Any, front_desk: Any) -> None:
    patient = create_patient(
        intake(diagnoses=["f33.1", "F331", "G89.29", "m797", "F32.89", "Z99.89"]),
        actor_id=front_desk.id,
    )
    described = {d.code: d.description for d in patient.diagnoses}
    assert list(described) == ["F33.1", "G89.29", "M79.7", "F32.89", "Z99.89"]
    assert described["F33.1"] == "Major depressive disorder, recurrent, moderate"
    assert described["M79.7"] == "Fibromyalgia"
    assert described["F32.89"] == "Major depressive disorder, single episode"  # category
    assert described["Z99.89"] is None


def test_updating_diagnoses_keeps_rows_that_stay(app: Any, front_desk: Any) -> None:
    patient = create_patient(intake(diagnoses=["F33.1", "G89.29"]), actor_id=1)
    kept_id = patient.diagnoses[0].id
    update_patient(patient, {"diagnoses": ["F33.1", "M79.7"]}, actor_id=front_desk.id)
    db.session.commit()
    assert [d.code for d in patient.diagnoses] == ["F33.1", "M79.7"]
    assert patient.diagnoses[0].id == kept_id


@time_machine.travel(FROZEN, tick=False)
def test_consent_changes_are_timestamped_logged_and_signalled(
    app: Any, front_desk: Any, consent_log: Any
) -> None:
    patient = create_patient(intake(phone="212 555 0123", sms_consent=True), actor_id=front_desk.id)
    assert patient.sms_consent is True and patient.sms_consent_at == FROZEN
    assert patient.email_consent is False and patient.email_consent_at is None
    with time_machine.travel(datetime(2026, 3, 9, 15, 0, tzinfo=UTC), tick=False):
        update_patient(patient, {"sms_consent": False}, actor_id=front_desk.id)
        update_patient(patient, {"sms_consent": False}, actor_id=front_desk.id)
    db.session.commit()
    assert patient.sms_consent is False
    assert patient.sms_consent_at == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    trail = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.channel, e.granted, e.actor_id) for e in trail] == [
        ("sms", True, front_desk.id),
        ("sms", False, front_desk.id),
    ]
    assert [(c["channel"], c["granted"], c["actor_id"]) for c in consent_log] == [
        ("sms", True, front_desk.id),
        ("sms", False, front_desk.id),
    ]
    assert consent_log[0]["patient"] is patient


def test_update_only_touches_given_fields_and_audits_their_names(app: Any, front_desk: Any) -> None:
    patient = create_patient(intake(email="a@example.org"), actor_id=front_desk.id)
    update_patient(patient, {"last_name": "Rivers"}, actor_id=front_desk.id)
    db.session.commit()
    assert patient.last_name == "Rivers" and patient.email == "a@example.org"
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update").order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.detail == {"fields": ["last_name"]}
    assert event.patient_id == patient.id


def test_clearing_the_phone_of_an_sms_patient_is_refused(app: Any, front_desk: Any) -> None:
    patient = create_patient(
        intake(phone="2125550123", preferred_channel="sms"), actor_id=front_desk.id
    )
    with pytest.raises(Invalid) as exc:
        update_patient(patient, {"phone": None}, actor_id=front_desk.id)
    assert "phone number" in exc.value.fields["preferred_channel"][0]


def test_unknown_patient_and_impossible_ids_are_not_found(app: Any) -> None:
    for bad in (999, 0, -1, 2**40, "1"):
        with pytest.raises(NotFound):
            get_patient(bad)  # type: ignore[arg-type]


def test_view_is_audited(app: Any, technician: Any) -> None:
    patient = make_patient()
    view_patient(patient.id, actor_id=technician.id)
    db.session.commit()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).one()
    assert (event.actor_id, event.entity_type, event.entity_id, event.patient_id) == (
        technician.id,
        "patient",
        patient.id,
        patient.id,
    )


def test_search_by_name_words_or_mrn_fragment_is_case_insensitive(app: Any) -> None:
    jamie = make_patient(first_name="Jamie", last_name="Rivera")
    make_patient(first_name="Alex", last_name="Stone").mrn = "20001234"
    make_patient(first_name="Sam", last_name="O'Brien_x%").mrn = "30005678"
    jamie.mrn = "10004217"
    db.session.commit()
    assert search_patients("RIV") == [jamie]
    assert search_patients("rivera jam") == [jamie]
    assert search_patients("0042") == [jamie]
    assert [p.last_name for p in search_patients("_x%")] == ["O'Brien_x%"]
    assert search_patients("s%") == []  # wildcards are literal
    assert len(search_patients("", limit=2)) == 2


def test_search_compares_names_as_the_duplicate_check_does(app: Any) -> None:
    """Names were lowered by the database, which folds ASCII only: "strauss" missed
    Strauß, and on SQLite "élodie" missed Élodie. Search now compares the names NFC and
    case-folded (`name_key`), so neither case nor how an accent was typed hides anyone."""
    elodie = make_patient(first_name="Élodie", last_name="Strauß")
    db.session.commit()
    assert search_patients("strauss") == [elodie]
    assert search_patients("ÉLODIE") == [elodie]
    assert search_patients("E\u0301lodie") == [elodie]  # E and a combining acute accent


def test_search_follows_each_change_of_name_mrn_and_phone(app: Any, front_desk: Any) -> None:
    """The trigram index (a table of its own on SQLite) keeps in step with every change."""
    patient = create_patient(intake(), actor_id=front_desk.id)
    update_patient(
        patient.id, {"last_name": "Okafor", "phone": "+12125550199"}, actor_id=front_desk.id
    )
    patient.mrn = "X7700123"
    db.session.commit()
    assert search_patients("rivera") == []
    assert search_patients("okaf jam") == [patient]
    assert search_patients("x770") == [patient]
    assert search_patients("(212) 555-0199") == [patient]
    gone = make_patient(first_name="Tamsin", last_name="Vale", screened=None)
    db.session.commit()
    db.session.delete(gone)
    db.session.commit()
    assert search_patients("tamsin") == []
    # The next patient may take the deleted one's id: it must be found, and only it.
    again = create_patient(intake(first_name="Ines", last_name="Moreau"), actor_id=front_desk.id)
    db.session.commit()
    assert search_patients("moreau") == [again] and search_patients("vale") == []


def test_search_refuses_unstorable_text(app: Any) -> None:
    with pytest.raises(Invalid):
        search_patients("a\x00b")


def test_find_duplicate_ignores_case(app: Any) -> None:
    jamie = make_patient(first_name="Zoë", last_name="Rivera", date_of_birth=date(1980, 5, 17))
    assert find_duplicate("ZOË", "rivera", date(1980, 5, 17)) == jamie
    assert find_duplicate("Zoë", "Rivera", date(1980, 5, 18)) is None


# --- medication trials and authorizations ------------------------------------------------


def test_medication_trials_add_edit_delete_without_a_medication_change(
    app: Any, clinician: Any, medication_log: Any
) -> None:
    patient = make_patient()
    trial = add_medication_trial(
        patient.id,
        {
            "drug": "Sertraline",
            "drug_class": "SSRI",
            "dose": "150 mg",
            "start_date": date(2025, 1, 6),
            "stop_date": date(2025, 3, 3),
            "weeks_at_dose": 6,
            "reason_stopped": "no response",
        },
        actor_id=clinician.id,
    )
    update_medication_trial(trial.id, {"dose": "200 mg"}, actor_id=clinician.id)
    update_medication_trial(trial.id, {"dose": "200 mg"}, actor_id=clinician.id)
    db.session.commit()
    assert trial.dose == "200 mg"
    # Wrong before: any edit of the trial history (typed in for a payer, ended long ago)
    # announced a medication change and so forced a new motor threshold.
    assert medication_log == []
    assert delete_medication_trial(trial.id, actor_id=clinician.id) == patient.id
    db.session.commit()
    assert list_medication_trials(patient.id, actor_id=clinician.id) == []


def test_medication_trial_rules(app: Any, clinician: Any) -> None:
    patient = make_patient()
    with pytest.raises(Invalid) as exc:
        add_medication_trial(
            patient.id,
            {"drug": "", "start_date": date(2025, 3, 1), "stop_date": date(2025, 1, 1)},
            actor_id=clinician.id,
        )
    assert set(exc.value.fields) == {"drug", "stop_date"}
    with pytest.raises(Invalid) as exc:
        add_medication_trial(
            patient.id, {"drug": "x", "weeks_at_dose": 10**20}, actor_id=clinician.id
        )
    assert "weeks_at_dose" in exc.value.fields


def test_authorizations_add_and_edit(app: Any, front_desk: Any) -> None:
    patient = make_patient()
    authorization = add_authorization(
        patient,
        {
            "payer": "Blue Cross",
            "member_id": "XQ123",
            "number": "PA-1",
            "sessions_authorized": 36,
            "valid_from": date(2026, 3, 1),
            "valid_to": date(2026, 6, 1),
        },
        actor_id=front_desk.id,
    )
    update_authorization(authorization.id, {"sessions_authorized": 42}, actor_id=front_desk.id)
    db.session.commit()
    assert authorization.sessions_authorized == 42
    with pytest.raises(Invalid) as exc:
        update_authorization(
            authorization.id, {"valid_to": date(2026, 1, 1)}, actor_id=front_desk.id
        )
    assert "valid_to" in exc.value.fields
    with pytest.raises(Invalid) as exc:
        add_authorization(patient, {"payer": "X"}, actor_id=front_desk.id)
    assert "sessions_authorized" in exc.value.fields


# --- screening ---------------------------------------------------------------------------


def test_screening_items_cover_the_domain() -> None:
    codes = {item.code for item in SCREENING_ITEMS}
    assert {"metal_in_head", "cochlear_implant", "seizure_history", "pregnancy"} <= codes
    absolute = [i for i in SCREENING_ITEMS if i.item_class == "absolute"]
    relative = [i for i in SCREENING_ITEMS if i.item_class == "relative"]
    assert len(absolute) == 5 and len(relative) == 10
    assert len(codes) == len(SCREENING_ITEMS)


SCREENING_CASES = (
    ((), "clear"),
    (("pregnancy",), "review"),
    (("seizure_history", "hearing_problems"), "review"),
    (("cochlear_implant",), "contraindicated"),
    (("metal_in_head", "pregnancy"), "contraindicated"),
)


def test_screening_result(app: Any, front_desk: Any) -> None:
    for yes, result in SCREENING_CASES:
        patient = make_patient(screened=None)
        screening = record_screening(patient, answers(*yes), "ok", front_desk.id)
        assert screening.result == result, yes
        assert screening.positive_items == [i.code for i in SCREENING_ITEMS if i.code in yes]
        assert screening.version == 1


def test_screening_needs_every_item_and_names_missing_and_unknown(
    app: Any, front_desk: Any
) -> None:
    patient = make_patient(screened=None)
    incomplete = answers()
    del incomplete["pregnancy"]
    incomplete["telepathy"] = True
    with pytest.raises(Invalid) as exc:
        record_screening(patient, incomplete, None, actor_id=front_desk.id)
    assert "pregnancy" in exc.value.message and "telepathy" in exc.value.message
    assert set(exc.value.fields) == {"answers.pregnancy", "answers.telepathy"}
    with pytest.raises(Invalid) as exc:
        record_screening(patient, {**answers(), "pregnancy": "no"}, None, actor_id=front_desk.id)
    assert set(exc.value.fields) == {"answers.pregnancy"}


def test_screenings_are_versioned_never_overwritten(app: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    first = record_screening(patient, answers(), None, actor_id=front_desk.id)
    second = record_screening(patient, answers("pregnancy"), None, front_desk.id)
    db.session.commit()
    assert (first.version, first.result) == (1, "clear")
    assert (second.version, second.result) == (2, "review")
    assert latest_screening(patient.id) == second
    assert latest_screening(patient.id) == second
    assert [s.version for s in list_screenings(patient.id, actor_id=None)] == [2, 1]


def test_screening_status_is_none_before_any_screening(app: Any) -> None:
    assert latest_screening(make_patient(screened=None).id) is None


def test_version_clash_is_retried(app: Any, front_desk: Any, monkeypatch: Any) -> None:
    """Two screenings saved at once: the unique (patient, version) key decides, then retry."""
    patient = make_patient(screened=None)
    record_screening(patient, answers(), None, actor_id=front_desk.id)
    db.session.commit()
    real_scalar = db.session.scalar
    stale = iter([0])  # the first read misses the version another writer just took

    def scalar(statement: Any, *args: Any, **kwargs: Any) -> Any:
        value = real_scalar(statement, *args, **kwargs)
        return next(stale, value) if "max(screenings.version)" in str(statement) else value

    monkeypatch.setattr(db.session, "scalar", scalar)
    screening = record_screening(patient, answers(), None, actor_id=front_desk.id)
    assert screening.version == 2


def test_clinician_signs_off_a_review_with_a_note(
    app: Any, front_desk: Any, clinician: Any
) -> None:
    patient = make_patient(screened=None)
    screening = record_screening(patient, answers("pregnancy"), None, front_desk.id)
    assert not screening.cleared_for_treatment
    with pytest.raises(NotAllowed):
        sign_off_screening(screening.id, "fine", actor_id=front_desk.id)
    with pytest.raises(Invalid):
        sign_off_screening(screening.id, "  ", actor_id=clinician.id)
    sign_off_screening(screening.id, "Negative test today.", actor_id=clinician.id)
    db.session.commit()
    assert screening.cleared_for_treatment
    assert screening.signed_off_by_id == clinician.id
    with pytest.raises(Conflict) as exc:
        sign_off_screening(screening.id, "again", actor_id=clinician.id)
    assert exc.value.code == "already_signed_off"


def test_only_review_results_can_be_signed_off(app: Any, front_desk: Any, clinician: Any) -> None:
    patient = make_patient(screened=None)
    screening = record_screening(patient, answers("metal_in_head"), None, front_desk.id)
    with pytest.raises(Conflict) as exc:
        sign_off_screening(screening.id, "ok", actor_id=clinician.id)
    assert exc.value.code == "screening_not_reviewable"


def test_every_change_is_audited(app: Any, front_desk: Any, clinician: Any) -> None:
    patient = create_patient(intake(), actor_id=front_desk.id)
    screening = record_screening(patient, answers("pregnancy"), None, front_desk.id)
    sign_off_screening(screening.id, "ok", actor_id=clinician.id)
    trial = add_medication_trial(patient, {"drug": "Bupropion"}, actor_id=clinician.id)
    update_medication_trial(trial.id, {"dose": "300 mg"}, actor_id=clinician.id)
    authorization = add_authorization(
        patient, {"payer": "Aetna", "sessions_authorized": 36}, actor_id=front_desk.id
    )
    update_authorization(authorization.id, {"number": "A1"}, actor_id=front_desk.id)
    update_patient(patient, {"email_consent": True}, actor_id=front_desk.id)
    db.session.commit()
    trail = db.session.execute(
        select(AuditEvent.action, AuditEvent.entity_type)
        .where(AuditEvent.patient_id == patient.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [tuple(row) for row in trail] == [
        ("create", "patient"),
        ("create", "screening"),
        ("sign_off", "screening"),
        ("create", "medication_trial"),
        ("update", "medication_trial"),
        ("create", "authorization"),
        ("update", "authorization"),
        ("consent_grant", "patient"),
    ]


def test_item_lookup_is_complete() -> None:
    assert set(ITEMS_BY_CODE) == {item.code for item in SCREENING_ITEMS}


def test_screening_model_is_append_only_per_version(app: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    record_screening(patient, answers(), None, actor_id=front_desk.id)
    record_screening(patient, answers("cochlear_implant"), None, front_desk.id)
    db.session.commit()
    rows = db.session.scalars(select(Screening).order_by(Screening.version)).all()
    assert [(s.version, s.result) for s in rows] == [(1, "clear"), (2, "contraindicated")]
    assert db.session.get(Patient, patient.id) is not None
