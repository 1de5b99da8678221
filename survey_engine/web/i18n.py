"""Interface strings of the respondent pages in each shipped language, and language negotiation."""
from __future__ import annotations

from flask import request

UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "save": "Save and continue later",
        "submit": "Send my answers",
        "required": "required",
        "optional": "optional",
        "saved": "Your answers are saved. You can come back to this link at any time to finish.",
        "fix_errors": "Some answers need your attention. They are marked below.",
        "characters": "characters at most",
        "conditional": "Answer only if it applies to you.",
        "language": "Language",
        "page": "Part",
        "thanks_title": "Thank you",
        "error_title": "Survey unavailable",
        "select": "Select all that apply",
    },
    "it": {
        "save": "Salva e continua più tardi",
        "submit": "Invia le mie risposte",
        "required": "obbligatoria",
        "optional": "facoltativa",
        "saved": "Le sue risposte sono state salvate. Può tornare a questo link in qualsiasi momento per concludere.",
        "fix_errors": "Alcune risposte richiedono la sua attenzione. Sono indicate qui sotto.",
        "characters": "caratteri al massimo",
        "conditional": "Risponda solo se la riguarda.",
        "language": "Lingua",
        "page": "Parte",
        "thanks_title": "Grazie",
        "error_title": "Questionario non disponibile",
        "select": "Selezioni tutte le opzioni pertinenti",
    },
    "fr": {
        "save": "Enregistrer et continuer plus tard",
        "submit": "Envoyer mes réponses",
        "required": "obligatoire",
        "optional": "facultative",
        "saved": "Vos réponses sont enregistrées. Vous pouvez revenir à ce lien à tout moment pour terminer.",
        "fix_errors": "Certaines réponses demandent votre attention. Elles sont signalées ci-dessous.",
        "characters": "caractères au maximum",
        "conditional": "Répondez seulement si cela vous concerne.",
        "language": "Langue",
        "page": "Partie",
        "thanks_title": "Merci",
        "error_title": "Questionnaire indisponible",
        "select": "Sélectionnez toutes les réponses qui conviennent",
    },
}


def ui(lang: str) -> dict[str, str]:
    return UI_TEXT.get(lang, UI_TEXT["en"])


def negotiate_language(offered: list[str], preferred: str | None = None) -> str:
    """``?lang=`` first, then the invitation's language, then Accept-Language, then the default."""
    requested = request.args.get("lang") or request.form.get("lang")
    if requested in offered:
        return requested
    if preferred in offered:
        return preferred
    match = request.accept_languages.best_match(offered)
    return match or offered[0]
