"""Patient search through trigram indexes: any part of a name, an MRN or a phone number.

Search finds a fragment anywhere in a name ("riv" finds Rivera), which no ordinary index
can narrow: at a group's 100,000 patients each search read every patient (93-213 ms).
PostgreSQL narrows it with pg_trgm's GIN indexes, SQLite with an FTS5 table of trigrams
that triggers keep in step with `patients`. Both index what search compares
(`clinic.patients.search.WORDS`: the case-folded names and the MRN) and the phone.

A later SQLite migration that rebuilds `patients` (batch mode) drops its triggers with
the old table and must create them again.

Revision ID: 0020_patient_search
Revises: 0019_history_indexes
Create Date: 2026-12-02 17:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_patient_search"
down_revision = "0019_history_indexes"
branch_labels = None
depends_on = None


def words(row: str = "") -> str:
    """clinic.patients.search.WORDS, written out (a migration keeps its own text)."""
    return f"{row}name_key || ' ' || lower({row}mrn)"


PHONE = "coalesce(phone, '')"
TRIGGERS = {
    "patients_search_insert": f"""AFTER INSERT ON patients BEGIN
    INSERT INTO patients_search (rowid, words, phone) VALUES (new.id, {words("new.")}, new.phone);
END""",
    "patients_search_update": f"""AFTER UPDATE OF name_key, mrn, phone ON patients BEGIN
    UPDATE patients_search SET words = {words("new.")}, phone = new.phone WHERE rowid = new.id;
END""",
    "patients_search_delete": """AFTER DELETE ON patients BEGIN
    DELETE FROM patients_search WHERE rowid = old.id;
END""",
}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension: the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX ix_patients_search_words ON patients USING gin (({words()}) gin_trgm_ops)"
        )
        op.execute(
            f"CREATE INDEX ix_patients_search_phone ON patients USING gin (({PHONE}) gin_trgm_ops)"
        )
        return
    op.execute("CREATE VIRTUAL TABLE patients_search USING fts5(words, phone, tokenize='trigram')")
    op.execute(
        f"INSERT INTO patients_search (rowid, words, phone) SELECT id, {words()}, phone FROM patients"
    )
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_patients_search_phone")
        op.execute("DROP INDEX ix_patients_search_words")
        return
    for name in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE patients_search")
