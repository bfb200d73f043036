"""`flask users ...`: create staff accounts and API tokens from the command line."""

from __future__ import annotations

import click

from clinic.auth import services
from clinic.errors import DomainError
from clinic.extensions import db
from clinic.permissions import Role


@click.group()
def users() -> None:
    """Manage staff users."""


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name shown in the app.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", required=True, help="At least 10 characters.")
def create(email: str, name: str, role: str, password: str) -> None:
    """Create a staff user."""
    try:
        user = services.create_user(email=email, name=name, role=role, password=password)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users.command("token")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
def token(email: str, label: str) -> None:
    """Create an API token; the token is the last line of the output."""
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    if not user.active:
        raise click.ClickException(f"user {email} is deactivated")
    value = services.create_token(user, label)
    db.session.commit()
    click.echo(f"API token for {user.email} (shown once; store it safely):", err=True)
    click.echo(value)
