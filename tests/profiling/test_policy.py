"""Contact caps from archetype and tier guidance, and the next-best-action rules in their order."""
from datetime import date

import pytest

from survey_engine.profiling.policy import (
    Guidance,
    contact_policy,
    load_policy,
    next_best_action,
    parse_policy,
)

POLICY = load_policy()
MINIMALIST = Guidance("modern_minimalist", "Modern minimalist", ("email", "website"), "Calm and concise.", 2)
STATUS = Guidance("status_exclusivity", "Status and exclusivity", ("private_events", "phone"), "Privileged and prompt.", 4)
DISCREET = Guidance("discreet_privacy", "Discreet privacy", ("email",), "Discreet and brief.", 1)


def policy(**overrides):
    values = dict(tier="luxury", style=MINIMALIST, relationship=STATUS, consent_marketing=True, contacts_used=0)
    values.update(overrides)
    return contact_policy(POLICY, **values)


def test_cap_is_the_smallest_of_archetypes_and_tier():
    assert POLICY.tier_caps == {"ultra_luxury": 6, "luxury": 4, "premium": 3, "entry": 2, "unknown": 2}
    p = policy()
    assert (p.cap, p.remaining, p.channel, p.tone) == (2, 2, "private_events", "Privileged and prompt.")
    assert p.reason == "smallest cap: style modern_minimalist (2)"
    assert policy(style=None).cap == 4  # relationship 4, luxury tier 4
    assert policy(style=None, tier="entry").cap == 2
    assert policy(relationship=DISCREET).cap == 1
    assert policy(style=None, relationship=None, tier=None).cap == 2 and policy(style=None, relationship=None).channel == "email"
    assert policy(contacts_used=1).remaining == 1 and policy(contacts_used=5).remaining == 0
    assert (policy(consent_marketing=False).cap, policy(consent_marketing=False).reason) == (0, "no marketing consent")
    assert policy(relationship=None).channel == "email" and policy(relationship=None).tone == "Calm and concise."


def action(**overrides):
    values = dict(today=date(2026, 12, 10), tier="premium", past_spend_tier="premium", rising=False, lapse_risk=False,
                  p_alive=0.8, last_purchase=date(2026, 6, 1), style=MINIMALIST, relationship=STATUS,
                  consent_marketing=True, surveyed=True)
    values.update(overrides)
    values.setdefault("policy", policy(tier=values["tier"], consent_marketing=values["consent_marketing"],
                                       style=values["style"], relationship=values["relationship"]))
    return next_best_action(**values)


def test_rules_apply_in_order():
    assert action(consent_marketing=False, rising=True).startswith("Do not contact for marketing")
    assert action(policy=policy(contacts_used=2), rising=True) == (
        "Hold: this month's contact cap (2) is used. Next contact from 2027-01-01.")
    text = action(tier="luxury", lapse_risk=True, rising=True, p_alive=0.31)
    assert text.startswith("Win back: this luxury client may be lapsing (P(alive) 31%, last purchase 2026-06-01). "
                           "Personal outreach from their advisor this week, at a private event.")
    assert text.endswith("Show pieces in their style (Modern minimalist). Tone: Privileged and prompt.")
    assert action(rising=True, tier="luxury", past_spend_tier="entry").startswith(
        "Rising client: predicted value is luxury, past spend says entry.")
    assert action(lapse_risk=True).startswith("Re-engage: purchases have slowed. One considered message, at a private event.")
    assert action(tier="ultra_luxury").startswith("Maintain: keep this ultra-luxury client close with early access")
    assert action(surveyed=False, style=None, relationship=None) == (
        "Learn their taste: invite them to the post-purchase survey, by email.")
    assert action().startswith("Keep in touch: one light, relevant message, at a private event.")


@pytest.mark.parametrize("data, message", [
    ({"tier_caps": {"luxury": 1}, "default_channel": "email"}, "tier_caps: expected exactly the keys"),
    ({"tier_caps": {**POLICY.tier_caps, "entry": 40}, "default_channel": "email"}, "tier_caps.entry: must be an integer from 0 to 31"),
    ({"tier_caps": dict(POLICY.tier_caps), "default_channel": ""}, "default_channel: must be a channel name"),
    ({"tier_caps": dict(POLICY.tier_caps), "default_channel": "email", "colour": 1}, "unknown key(s) ['colour']"),
])
def test_policy_file_errors_name_the_key(data, message):
    with pytest.raises(ValueError) as info:
        parse_policy(data, "policy.yaml")
    assert str(info.value).startswith("policy.yaml: ") and message in str(info.value)
