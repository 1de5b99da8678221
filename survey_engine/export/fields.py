"""The profile fields a destination may export, with their type (which decides the formatting).

Contact fields come from the person's golden record (identity resolution); everything else from
the profile. ``json`` fields are exported as JSON text in CSV and as nested values in JSON Lines.
"""
from __future__ import annotations

#: Field name -> type (str, int, float, bool, datetime, json).
EXPORT_FIELDS: dict[str, str] = {
    "person_id": "int",
    "customer_id": "str",
    "email": "str",
    "first_name": "str",
    "last_name": "str",
    "phone": "str",
    "country": "str",
    "value_tier": "str",
    "past_spend_tier": "str",
    "tier_score": "float",
    "clv": "float",
    "p_alive": "float",
    "expected_purchases": "float",
    "expected_average_value": "float",
    "total_spend": "float",
    "n_orders": "int",
    "category_breadth": "int",
    "first_purchase_at": "datetime",
    "last_purchase_at": "datetime",
    "rising": "bool",
    "lapse_risk": "bool",
    "upgrade_propensity": "float",
    "style_archetype": "str",
    "style_membership": "float",
    "style_source": "str",
    "relationship_style": "str",
    "relationship_membership": "float",
    "relationship_source": "str",
    "themes_text": "str",
    "last_survey_at": "datetime",
    "surveys_completed": "int",
    "consent_marketing": "bool",
    "consent_profiling": "bool",
    "contact_cap": "int",
    "contact_month": "str",
    "contacts_used": "int",
    "contacts_remaining": "int",
    "preferred_channel": "str",
    "next_best_action": "str",
    "updated_at": "datetime",
    "change_seq": "int",
    "factor_scores": "json",
    "style_memberships": "json",
    "relationship_memberships": "json",
    "themes": "json",
    "model_versions": "json",
}

#: Fields read from the golden record of the person (``identity_person``), not the profile.
PERSON_FIELDS = ("email", "first_name", "last_name", "phone", "country")

#: Consents a destination or subscriber may require.
CONSENTS = ("marketing", "profiling")
