"""Contact policy (monthly cap, channel, tone) and the next-best-action text for client advisors.

The cap combines the engagement guidance of the client's archetypes with the value tier's cap
(``contact_policy.yaml``); the action follows fixed rules in order of precedence, listed in
:func:`next_best_action`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from survey_engine.clv.tiers import TIERS

DEFAULT_POLICY_FILE = Path(__file__).with_name("contact_policy.yaml")
_TIER_KEYS = (*TIERS, "unknown")
_TIER_NAMES = {"ultra_luxury": "ultra-luxury", "luxury": "luxury", "premium": "premium", "entry": "entry"}
#: How an advisor reaches a client on each engagement channel (text of the next best action).
CHANNEL_PHRASES = {
    "boutique": "in the boutique", "private_appointment": "with a private appointment", "events": "at an event",
    "private_events": "at a private event", "phone": "by phone", "email": "by email", "messaging": "by message",
    "direct_mail": "by post", "website": "on the website", "app": "in the app", "social_media": "on social media",
}


@dataclass(frozen=True)
class Guidance:
    """Engagement guidance of one archetype (from its catalog)."""

    archetype_id: str
    name: str
    channels: tuple[str, ...]
    tone: str
    monthly_contact_cap: int

    @classmethod
    def from_spec(cls, spec, language: str = "en") -> "Guidance":
        """From an :class:`~survey_engine.definitions.archetypes.ArchetypeSpec`."""
        def text(values: Mapping[str, str]) -> str:
            return values.get(language) or next(iter(values.values()), "")

        return cls(spec.id, text(spec.name), tuple(spec.engagement.channels), text(spec.engagement.tone),
                   int(spec.engagement.monthly_contact_cap))


@dataclass(frozen=True)
class ContactPolicyConfig:
    """Validated ``contact_policy.yaml``."""

    tier_caps: Mapping[str, int]
    default_channel: str
    language: str


def parse_policy(data: Any, source: str = "<policy>") -> ContactPolicyConfig:
    """Validate a parsed policy mapping; errors name ``source`` and the key."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping with tier_caps, default_channel, language")
    unknown = sorted(set(data) - {"tier_caps", "default_channel", "language"})
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}")
    caps = data.get("tier_caps")
    if not isinstance(caps, dict) or set(caps) != set(_TIER_KEYS):
        raise ValueError(f"{source}: tier_caps: expected exactly the keys {list(_TIER_KEYS)}")
    for key, value in caps.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 31:
            raise ValueError(f"{source}: tier_caps.{key}: must be an integer from 0 to 31, got {value!r}")
    channel = data.get("default_channel")
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"{source}: default_channel: must be a channel name")
    language = data.get("language", "en")
    if not isinstance(language, str) or len(language) != 2:
        raise ValueError(f"{source}: language: must be a two-letter code, got {language!r}")
    return ContactPolicyConfig(dict(caps), channel, language)


def load_policy(path: str | Path | None = None) -> ContactPolicyConfig:
    import yaml

    path = Path(path) if path is not None else DEFAULT_POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read contact policy ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    return parse_policy(data, str(path))


@dataclass(frozen=True)
class ContactPolicy:
    cap: int
    used: int
    remaining: int
    channel: str
    tone: str | None
    reason: str


def contact_policy(config: ContactPolicyConfig, *, tier: str | None, style: Guidance | None,
                   relationship: Guidance | None, consent_marketing: bool, contacts_used: int) -> ContactPolicy:
    """Monthly cap, contacts remaining, channel and tone for one client.

    The cap is ``min(style cap, relationship cap, tier cap)`` over the guidance present, 0 without
    marketing consent. The channel is the relationship style's first channel (how the client wants
    to be treated), else the style archetype's, else the default; the tone is the relationship
    style's, else the style archetype's.
    """
    tier_cap = int(config.tier_caps[tier if tier in TIERS else "unknown"])
    caps = {"tier": tier_cap}
    for kind, guidance in (("style", style), ("relationship", relationship)):
        if guidance is not None:
            caps[f"{kind} {guidance.archetype_id}"] = guidance.monthly_contact_cap
    cap = min(caps.values())
    binding = min(caps, key=caps.get)
    reason = f"smallest cap: {binding} ({cap})"
    if not consent_marketing:
        cap, reason = 0, "no marketing consent"
    source = relationship or style
    channel = source.channels[0] if source is not None else config.default_channel
    tone = source.tone if source is not None else None
    used = max(int(contacts_used), 0)
    return ContactPolicy(cap, used, max(cap - used, 0), channel, tone, reason)


def _first_of_next_month(today: date) -> date:
    return date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def next_best_action(*, today: date, tier: str | None, past_spend_tier: str | None, rising: bool,
                     lapse_risk: bool, p_alive: float | None, last_purchase: date | None,
                     style: Guidance | None, relationship: Guidance | None, policy: ContactPolicy,
                     consent_marketing: bool, surveyed: bool) -> str:
    """A short instruction for a client advisor; the first rule that applies wins.

    1. No marketing consent: no outreach.
    2. Monthly cap reached: hold until the first of next month.
    3. Lapse risk in the ultra-luxury or luxury tier: personal win-back this week.
    4. Rising client (predicted tier above past-spend tier): invitation that marks the step up.
    5. Lapse risk (other tiers): re-engage with pieces for their style.
    6. Ultra-luxury or luxury: keep the relationship warm.
    7. Not surveyed yet: invite to the post-purchase survey to learn their taste.
    8. Otherwise: a light, style-led touch.

    Outreach rules name the channel and the tone from the archetype guidance, and the style to
    show when the style archetype is known.
    """
    if not consent_marketing:
        return "Do not contact for marketing: the client has not given marketing consent. Serve them when they ask."
    if policy.remaining <= 0:
        return (f"Hold: this month's contact cap ({policy.cap}) is used. "
                f"Next contact from {_first_of_next_month(today).isoformat()}.")
    how = CHANNEL_PHRASES.get(policy.channel, f"by {policy.channel.replace('_', ' ')}")
    tone = f" Tone: {policy.tone}" if policy.tone else ""
    show = f" Show pieces in their style ({style.name})." if style is not None else ""
    tier_name = _TIER_NAMES.get(tier or "", "")
    if lapse_risk and tier in ("ultra_luxury", "luxury"):
        since = f", last purchase {last_purchase.isoformat()}" if last_purchase else ""
        alive = f" (P(alive) {p_alive:.0%}{since})" if p_alive is not None else ""
        return (f"Win back: this {tier_name} client may be lapsing{alive}. Personal outreach from their advisor "
                f"this week, {how}.{show}{tone}")
    if rising:
        return (f"Rising client: predicted value is {tier_name}, past spend says "
                f"{_TIER_NAMES.get(past_spend_tier or '', 'less')}. Invite them to a private preview and introduce "
                f"their advisor, {how}.{show}{tone}")
    if lapse_risk:
        return f"Re-engage: purchases have slowed. One considered message, {how}.{show}{tone}"
    if tier in ("ultra_luxury", "luxury"):
        return f"Maintain: keep this {tier_name} client close with early access, {how}.{show}{tone}"
    if not surveyed:
        return f"Learn their taste: invite them to the post-purchase survey, {how}.{tone}"
    return f"Keep in touch: one light, relevant message, {how}.{show}{tone}"
