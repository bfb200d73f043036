"""The outcome report by site and its sleep change, on a hand-made clinic of two sites
whose answer was worked out by hand (below, beside the data).

Wrong before: `site_id` answered 422 (an unknown parameter), the report had no site
stratum and no sleep figures, and a member of staff limited to one site saw every site's
courses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import services
from clinic.scheduling import sites
from clinic.scheduling.models import Device, Site
from tests.factories import (
    ApiClient,
    login,
    make_appointment,
    make_course,
    make_device,
    make_patient,
)
from tests.outcomes.conftest import START, phq9

REPORT = "/api/v1/reports/outcomes?from=2025-01-01&to=2025-03-31"


def sleep_answers(raw: int) -> list[int]:
    """PROMIS-SD-8a answers whose raw score is `raw` (9 to 34): the three reverse-scored
    items (1, 2, 8) at 3, which stays 3; the other five share the rest."""
    rest = raw - 9
    middle = [rest // 5 + (1 if n < rest % 5 else 0) for n in range(5)]
    return [3, 3, *middle, 3]


def treated(
    protocol: str,
    status: str,
    chairs: list[Device],
    phq: tuple[int, int],
    sleep: tuple[int, ...] = (),
    *,
    hour: int,
) -> Course:
    """One delivered session a day from START + `hour` hours (chairs are never double
    booked) on each chair in turn; PHQ-9 and sleep (raw scores) the day before the first
    session and 2 days after the last."""
    course = make_course(make_patient(), protocol_code=protocol, planned_sessions=5)
    first = START + timedelta(hours=hour)
    for n, chair in enumerate(chairs):
        make_appointment(
            course, first + timedelta(days=n), device=chair, sequence=n + 1, status="completed"
        )
    last = START + timedelta(days=len(chairs) - 1)
    moments = (START - timedelta(days=1), last + timedelta(days=2))
    for instrument, scores in (("PHQ-9", phq), ("PROMIS-SD-8a", sleep)):
        for score, at in zip(scores, moments, strict=False):
            answers = phq9(score) if instrument == "PHQ-9" else sleep_answers(score)
            services.record_response(
                course.patient_id, instrument, answers, course.id, "staff", None,
                administered_at=at,
            )  # fmt: skip
    course.status = status
    course.status_changed_at = last + timedelta(days=2)
    db.session.commit()
    return course


def two_sites() -> tuple[Site, Site]:
    """Home (the first site) and Paris; raw sleep 30 = T 60.4, 27 = T 57.3, 20 = T 50.1."""
    home = sites.get_site()
    paris = sites.create_site(name="Paris", timezone="Europe/Paris", holidays="FR", actor_id=None)
    db.session.commit()
    at_home, in_paris = make_device(site_id=home.id), make_device(site_id=paris.id)
    treated("10hz-ldlpfc", "completed", [at_home] * 5, (20, 8), (30, 20), hour=0)  # A: response
    treated("10hz-ldlpfc", "completed", [in_paris] * 5, (20, 4), (30, 27), hour=1)  # B: + remits
    treated("itbs-ldlpfc", "discontinued", [in_paris] * 2, (20, 18), (30,), hour=2)  # C: no end
    moved = [at_home] * 2 + [in_paris] * 3
    treated("10hz-ldlpfc", "completed", moved, (20, 10), hour=3)  # D: two sites
    return home, paris


# By hand:
# every site  ITT A B C D: n 4, responders A B D = 3 (75.0%), remitters B = 1 (25.0%)
# home        A D: n 2, 2 (100.0%), 0 (0.0%)
# Paris       B C D: n 3, 2 (66.7%), 1 (33.3%)   (D was treated at both: it counts at both)
# sleep       A 60.4 -> 50.1 (-10.3, improved), B 60.4 -> 57.3 (-3.1, not); C has no end:
#             n 2, means 60.4 -> 53.7, change -6.7, improved 1 (50.0%)
# sleep Paris B: n 1, 60.4 -> 57.3, -3.1, improved 0 (0.0%)
def itt(body: dict[str, Any]) -> tuple[int, int, int]:
    cohort = body["intent_to_treat"]
    return cohort["n"], cohort["responders"], cohort["remitters"]


def test_the_report_of_one_site_counts_the_courses_treated_there(
    api: ApiClient, clinician: Any
) -> None:
    home, paris = two_sites()
    client = api.as_(clinician)
    everywhere = client.get(REPORT).get_json()
    assert itt(everywhere["total"]) == (4, 3, 1)
    assert everywhere["site_ids"] is None
    by_site = {s["label"]: s for s in everywhere["strata"]["site"]}
    assert list(by_site) == [home.name, "Paris"]
    assert (itt(by_site[home.name]), itt(by_site["Paris"])) == ((2, 2, 0), (3, 2, 1))
    assert by_site["Paris"]["site_id"] == paris.id
    there = client.get(f"{REPORT}&site_id={paris.id}").get_json()
    assert itt(there["total"]) == (3, 2, 1)
    assert there["site_ids"] == [paris.id]
    assert there["strata"]["site"] == []  # one site: its stratum would be the total
    assert itt(client.get(f"{REPORT}&site_id={home.id}").get_json()["total"]) == (2, 2, 0)


def test_an_unknown_or_malformed_site_is_refused_clearly(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    unknown = client.get(f"{REPORT}&site_id=999")
    assert unknown.status_code == 404
    assert "No site 999" in unknown.get_json()["error"]["message"]
    for bad in ("0", "paris"):
        refused = client.get(f"{REPORT}&site_id={bad}")
        assert refused.status_code == 422
        assert "site_id" in refused.get_json()["error"]["fields"]


def test_staff_limited_to_a_site_see_only_its_figures(
    api: ApiClient, technician: Any, admin: Any
) -> None:
    home, paris = two_sites()
    sites.set_user_sites(technician.id, [paris.id], actor_id=admin.id)
    db.session.commit()
    client = api.as_(technician)
    mine = client.get(REPORT).get_json()
    assert itt(mine["total"]) == (3, 2, 1)
    assert mine["site_ids"] == [paris.id]
    assert mine["strata"]["site"] == []
    elsewhere = client.get(f"{REPORT}&site_id={home.id}")
    assert elsewhere.status_code == 403
    assert elsewhere.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"{REPORT}&site_id={paris.id}").status_code == 200


def test_the_report_shows_the_sleep_change_with_its_mid(api: ApiClient, clinician: Any) -> None:
    _home, paris = two_sites()
    client = api.as_(clinician)
    body = client.get(REPORT).get_json()
    assert body["total"]["sleep"] == {
        "n": 2,
        "mean_baseline": 60.4,
        "mean_end": 53.7,
        "mean_change": -6.7,
        "improved": 1,
        "improved_pct": 50.0,
    }
    by_site = {s["label"]: s for s in body["strata"]["site"]}
    assert by_site["Paris"]["sleep"]["mean_change"] == -3.1
    assert by_site["Paris"]["sleep"]["improved"] == 0
    itbs = next(item for item in body["items"] if item["protocol"] == "itbs-ldlpfc")
    assert itbs["sleep"]["n"] == 0 and itbs["sleep"]["mean_change"] is None  # C: no end
    there = client.get(f"{REPORT}&site_id={paris.id}").get_json()
    assert there["total"]["sleep"]["n"] == 1


def test_the_page_picks_a_site_and_the_csv_follows_it(
    client: FlaskClient, clinician: Any, technician: Any, admin: Any
) -> None:
    home, paris = two_sites()
    login(client, clinician)
    page = client.get("/outcomes?start=2025-01-01&end=2025-03-31").get_data(as_text=True)
    assert 'name="site_id"' in page and ">Paris</option>" in page
    assert "By site" in page and "Improved &ge;5 points" in page
    assert "50.0% (1 of 2)" in page  # sleep, all protocols
    there = client.get(f"/outcomes?start=2025-01-01&end=2025-03-31&site_id={paris.id}")
    html = there.get_data(as_text=True)
    assert "with treatments delivered at Paris" in html
    assert f"site_id={paris.id}" in html  # the CSV link keeps the site
    assert "75.0% (3 of 4)" not in html and "66.7% (2 of 3)" in html
    everywhere = client.get("/outcomes.csv?start=2025-01-01&end=2025-03-31")
    lines = everywhere.get_data(as_text=True).splitlines()
    assert any(
        line.startswith("protocol,all,intent_to_treat,response,4,3,75.0,,") for line in lines
    )
    assert any(line.startswith("site,Paris,intent_to_treat,response,3,2,66.7,,") for line in lines)
    csv = client.get(f"/outcomes.csv?start=2025-01-01&end=2025-03-31&site_id={paris.id}")
    assert f"site-{paris.id}.csv" in csv.headers["Content-Disposition"]
    lines = csv.get_data(as_text=True).splitlines()
    assert any(
        line.startswith("protocol,all,intent_to_treat,response,3,2,66.7,,") for line in lines
    )
    assert not any(line.startswith("site,") for line in lines)
    assert client.get("/outcomes?site_id=999").status_code == 404
    sites.set_user_sites(technician.id, [home.id], actor_id=admin.id)
    db.session.commit()
    client.post("/logout")
    login(client, technician)
    assert client.get(f"/outcomes.csv?site_id={paris.id}").status_code == 403
    mine = client.get("/outcomes?start=2025-01-01&end=2025-03-31").get_data(as_text=True)
    assert "100.0% (2 of 2)" in mine  # home: A and D respond
    assert ">Paris</option>" not in mine  # one site of their own: no picker


def test_the_csv_writes_the_sleep_figures_with_their_definitions(
    client: FlaskClient, clinician: Any
) -> None:
    two_sites()
    login(client, clinician)
    text = client.get("/outcomes.csv?start=2025-01-01&end=2025-03-31").get_data(as_text=True)
    lines = text.splitlines()
    assert lines[0] == "group,label,cohort,measure,n,count,pct,value,definition"
    improved = next(line for line in lines if line.startswith("protocol,all,sleep,improved_5,"))
    assert improved.startswith("protocol,all,sleep,improved_5,2,1,50.0,,")
    assert "minimal important difference" in improved and "PROMIS" in improved
    assert "protocol,all,sleep,mean_baseline,2,,,60.4," in text
    assert "protocol,all,sleep,mean_end,2,,,53.7," in text
    change = next(line for line in lines if line.startswith("protocol,all,sleep,mean_change,"))
    assert change.startswith("protocol,all,sleep,mean_change,2,,,-6.7,")
    assert "end minus baseline" in change
    assert "site,Paris,sleep,mean_change,1,,,-3.1," in text
