"""Who may use which route: the declared permission of every endpoint of the app.

Staff pages belong to a *section* whose roles are listed in ``SECTIONS``; API routes name the roles
of the API keys they accept; public routes need nothing (respondent routes are authorised by the
invitation token they carry). ``tests/web/test_permissions.py`` walks every route of the app with
every role, with API keys of every role and with no sign-in, and compares the outcome with this
map, so a new route that is missing here, or that checks other roles than declared, fails.
"""
from __future__ import annotations

from dataclasses import dataclass

from survey_engine.models import ROLES

#: Staff page sections and the roles that may open them, in navigation order.
SECTIONS: dict[str, tuple[str, ...]] = {
    "questionnaires": ("researcher", "admin"),
    "fieldwork": ("researcher", "admin"),
    "factors": ("researcher", "admin"),
    "archetypes": ("researcher", "admin"),
    "customers": ("marketer", "admin"),
    "exports": ("marketer", "admin"),
    "admin": ("admin",),
}

SECTION_TITLES = {
    "questionnaires": "Questionnaires",
    "fieldwork": "Fieldwork",
    "factors": "Factor analysis",
    "archetypes": "Archetypes",
    "customers": "Customers",
    "exports": "Drift & exports",
    "admin": "Admin",
}


@dataclass(frozen=True)
class Access:
    """``kind`` is ``public``, ``api`` (bearer API key with one of ``roles``) or ``staff`` (signed-in
    staff session with one of ``roles``)."""

    kind: str
    roles: tuple[str, ...] = ()


PUBLIC = Access("public")
ALL_ROLES = tuple(ROLES)


def api(*roles: str) -> Access:
    return Access("api", tuple(roles))


def staff(section: str | None = None) -> Access:
    """A staff page of ``section``, or open to every signed-in role when no section is given."""
    return Access("staff", SECTIONS[section] if section else ALL_ROLES)


ENDPOINT_ACCESS: dict[str, Access] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    # respondents: the token in the path or body is the authorisation
    "respondent.show": PUBLIC,
    "respondent.submit": PUBLIC,
    "respondent.thanks": PUBLIC,
    "api.submit_response": PUBLIC,
    "api.openapi": PUBLIC,
    # JSON API for staff systems
    "api.questionnaires": api(*ALL_ROLES),
    "api.questionnaire": api(*ALL_ROLES),
    "api.create_invitation": api(*ALL_ROLES),
    "api.list_responses": api("researcher", "admin"),
    "api_transactions.post_transactions": api("marketer", "admin"),
    "api_identity.import_records": api("marketer", "admin"),
    "api_identity.resolve": api("admin"),
    "api_identity.merge": api("marketer", "admin"),
    "api_identity.split": api("marketer", "admin"),
    "api_identity.person": api(*ALL_ROLES),
    "api_identity.customer": api(*ALL_ROLES),
    "api_profiles.list_profiles": api("marketer", "admin"),
    "api_profiles.show_profile": api("marketer", "admin"),
    "api_profiles.add_note": api("marketer", "admin"),
    "api_profiles.add_correction": api("marketer", "admin"),
    "api_profiles.add_contact": api("marketer", "admin"),
    "api_profiles.list_exports": api("marketer", "admin"),
    "api_profiles.run_export": api("marketer", "admin"),
    "api_profiles.privacy_export": api("admin"),
    "api_profiles.privacy_erase": api("admin"),
    # staff pages
    "staff_auth.sign_in": PUBLIC,
    "staff_auth.sign_out": staff(),
    "staff_auth.home": staff(),
    "staff_questionnaires.index": staff("questionnaires"),
    "staff_questionnaires.preview": staff("questionnaires"),
    "staff_fieldwork.index": staff("fieldwork"),
    "staff_factors.index": staff("factors"),
    "staff_factors.model": staff("factors"),
    "staff_factors.fit": staff("factors"),
    "staff_factors.activate": staff("factors"),
    "staff_archetypes.index": staff("archetypes"),
    "staff_archetypes.assign": staff("archetypes"),
    "staff_archetypes.discover": staff("archetypes"),
    "staff_archetypes.accept": staff("archetypes"),
    "staff_customers.index": staff("customers"),
    "staff_customers.profile": staff("customers"),
    "staff_customers.add_note": staff("customers"),
    "staff_customers.correct": staff("customers"),
    "staff_exports.index": staff("exports"),
    "staff_exports.run_export": staff("exports"),
    "staff_exports.download": staff("exports"),
    "staff_webhooks.index": staff("admin"),
    "staff_webhooks.create": staff("admin"),
    "staff_webhooks.set_state": staff("admin"),
    "staff_webhooks.replay": staff("admin"),
    "staff_admin.users": staff("admin"),
    "staff_admin.create_user": staff("admin"),
    "staff_admin.update_user": staff("admin"),
    "staff_admin.api_keys": staff("admin"),
    "staff_admin.create_api_key": staff("admin"),
    "staff_admin.revoke_api_key": staff("admin"),
}


def sections_for(role: str | None) -> list[str]:
    """The sections a role may open, in navigation order."""
    return [name for name, roles in SECTIONS.items() if role in roles]
