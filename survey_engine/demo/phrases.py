"""Phrase banks for the demo population's free-text answers, with the noise real answers carry.

``style_words`` answers are drawn from a bank per style archetype and ``special_purchase`` answers
from a bank per relationship style, in English, Italian and French. The banks are written in a
respondent's voice and deliberately differ from the example phrases of the archetype catalogs
(``archetypes/*.yaml``), so that text-based assignment tested on the demo population is not
matching a string against itself.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

Bank = Mapping[str, Mapping[str, tuple[str, ...]]]

STYLE_PHRASES: Bank = MappingProxyType({
    "modern_minimalist": MappingProxyType({
        "en": (
            "a few pieces that do all the work",
            "nothing loud, just good cuts",
            "black, white, camel and that's it",
            "I edit my wardrobe every season",
            "quiet tailoring",
            "no logos please",
            "simple shapes, perfect fabric",
            "one good coat instead of five",
            "monochrome most days",
            "uncluttered and precise",
            "less but better",
            "sharp and understated",
            "architectural lines",
            "a capsule wardrobe I actually wear",
            "plain crisp shirts and straight trousers",
            "I like empty space, in clothes and at home",
            "functional, calm, neutral tones",
        ),
        "it": (
            "pochi capi ma perfetti",
            "niente loghi",
            "linee pulite e colori neutri",
            "essenziale e preciso",
            "un buon cappotto invece di cinque",
            "sobrio, mai appariscente",
            "bianco, nero e cammello",
            "guardaroba ridotto all'osso",
        ),
        "fr": (
            "peu de pièces mais parfaites",
            "pas de logo",
            "des coupes nettes et sobres",
            "tout en retenue",
            "noir, blanc, beige",
            "un seul beau manteau plutôt que cinq",
            "épuré et fonctionnel",
            "une garde-robe minimale",
        ),
    }),
    "vintage_romantic": MappingProxyType({
        "en": (
            "lace collars and old lockets",
            "my grandmother's brooches",
            "floaty dresses, soft pinks",
            "a bit of old Hollywood",
            "flea market finds mixed with silk",
            "pearls with everything",
            "dreamy and nostalgic",
            "velvet ribbons and cameos",
            "I love anything from the 1950s",
            "feminine, delicate, a little sentimental",
            "pieces with a love story behind them",
            "antique rings and rose gold",
            "ruffles, puff sleeves and florals",
            "like a character from an old novel",
            "faded tea-rose colours",
            "handwritten letters kind of style",
        ),
        "it": (
            "pizzi e medaglioni antichi",
            "le spille della nonna",
            "romantica e un po' nostalgica",
            "perle e seta",
            "abiti a fiori, colori tenui",
            "gioielli d'epoca",
            "stile anni cinquanta",
            "delicata e sognante",
        ),
        "fr": (
            "dentelle et médaillons anciens",
            "les broches de ma grand-mère",
            "romantique et nostalgique",
            "des perles avec tout",
            "robes fleuries et tons poudrés",
            "bijoux vintage chinés",
            "un peu rétro, années cinquante",
            "douce et rêveuse",
        ),
    }),
    "bold_maximalist": MappingProxyType({
        "en": (
            "more is more",
            "leopard print and gold everywhere",
            "I dress to be noticed",
            "clashing prints on purpose",
            "stacks of chunky bracelets",
            "neon with sequins, why not",
            "big shoulders, bigger earrings",
            "colour, colour, colour",
            "glamorous and a bit over the top",
            "the louder the better",
            "statement everything",
            "I never leave the house without a showpiece",
            "metallics and feathers",
            "I like people turning around",
            "full glam even on Mondays",
            "zebra coat and red boots",
        ),
        "it": (
            "più è meglio",
            "colori forti e tanto oro",
            "mi piace farmi notare",
            "stampe animalier e paillettes",
            "orecchini enormi",
            "esagerata e glamour",
            "fantasie mescolate apposta",
            "sempre un pezzo forte addosso",
        ),
        "fr": (
            "toujours plus",
            "léopard et doré partout",
            "j'aime qu'on me remarque",
            "des couleurs qui claquent",
            "paillettes et imprimés mélangés",
            "grosses boucles d'oreilles",
            "glamour et exubérant",
            "une pièce spectaculaire chaque jour",
        ),
    }),
    "classic_heritage": MappingProxyType({
        "en": (
            "navy blazer, loafers, a good watch",
            "pieces my children will inherit",
            "tweed in winter, linen in summer",
            "old school gentleman",
            "I buy from houses older than my grandparents",
            "the same trench coat for twenty years",
            "polished and proper",
            "hand-stitched leather and mechanical watches",
            "proper shoes that can be resoled",
            "conservative, well made, no fads",
            "a signet ring and a silk tie",
            "the kind of bag my mother carried",
            "traditional cuts from an old tailor",
            "riding boots and cashmere",
            "savile row rather than the high street",
            "established names I trust",
        ),
        "it": (
            "blazer blu e mocassini",
            "capi da tramandare ai figli",
            "classico e curato",
            "orologi meccanici e pelle cucita a mano",
            "sartoria tradizionale",
            "marchi storici di cui mi fido",
            "sempre lo stesso trench da vent'anni",
            "eleganza di una volta",
        ),
        "fr": (
            "blazer marine et mocassins",
            "des pièces que mes enfants hériteront",
            "classique et soigné",
            "montres mécaniques et cuir cousu main",
            "les grandes maisons historiques",
            "le même trench depuis vingt ans",
            "tailleur traditionnel",
            "une élégance d'autrefois",
        ),
    }),
    "avant_garde_creative": MappingProxyType({
        "en": (
            "deconstructed and asymmetric",
            "I wear things that look like sculptures",
            "young designers nobody knows yet",
            "odd volumes, strange textures",
            "art school forever",
            "I mix genders and eras",
            "experimental, sometimes ugly on purpose",
            "raw hems and unexpected materials",
            "clothes as an art installation",
            "drops from tiny labels",
            "Japanese cuts and layers",
            "things that make people ask questions",
            "rule breaking silhouettes",
            "3D printed jewellery and recycled metal",
            "a runway look on a Tuesday",
            "conceptual pieces",
        ),
        "it": (
            "destrutturato e asimmetrico",
            "stilisti giovani e sconosciuti",
            "volumi strani e materiali inattesi",
            "sperimentale, a volte provocatorio",
            "capi come sculture",
            "mescolo epoche e generi",
            "tagli giapponesi a strati",
            "concettuale",
        ),
        "fr": (
            "déstructuré et asymétrique",
            "créateurs émergents",
            "volumes étranges, matières inattendues",
            "expérimental, parfois provocant",
            "des vêtements comme des sculptures",
            "je mélange les époques et les genres",
            "coupes japonaises superposées",
            "pièces conceptuelles",
        ),
    }),
    "ethical_luxury_seeker": MappingProxyType({
        "en": (
            "I check where the leather comes from",
            "traceable gold only",
            "organic cotton and natural dyes",
            "lab-grown diamonds are fine by me",
            "I buy less and repair more",
            "brands that pay their artisans fairly",
            "certified materials, no greenwashing",
            "second hand first",
            "low impact, long life",
            "vegan leather when it is good quality",
            "I want to know the supply chain",
            "recycled cashmere",
            "pieces that last decades, not seasons",
            "conscious and transparent",
            "ethical sourcing matters more than the label",
            "no fur, no exotic skins",
        ),
        "it": (
            "controllo da dove viene la pelle",
            "solo oro tracciabile",
            "cotone biologico e tinture naturali",
            "compro meno e riparo di più",
            "artigiani pagati il giusto",
            "materiali certificati",
            "prima l'usato",
            "niente pellicce",
        ),
        "fr": (
            "je vérifie l'origine du cuir",
            "or traçable uniquement",
            "coton bio et teintures naturelles",
            "j'achète moins et je répare",
            "des artisans payés équitablement",
            "matières certifiées",
            "la seconde main d'abord",
            "pas de fourrure",
        ),
    }),
})

SPECIAL_PHRASES: Bank = MappingProxyType({
    "heritage_appreciation": MappingProxyType({
        "en": (
            "knowing the workshop has made it the same way for a century",
            "the story of the house behind the piece",
            "seeing the artisan's hands at work",
            "a visit to the atelier",
            "the archive pieces they showed me",
            "when the seller explains the techniques",
            "hand finishing you can feel",
            "being part of a long tradition",
            "the serial number and the certificate of origin",
            "learning how the leather was tanned",
            "the heritage, honestly",
            "old craftsmen and their secrets",
            "a piece that will outlive me",
            "the original design from the founder's era",
            "the patina it will get over the years",
        ),
        "it": (
            "sapere che il laboratorio lo fa così da cent'anni",
            "la storia della maison",
            "vedere l'artigiano al lavoro",
            "la visita all'atelier",
            "i pezzi d'archivio",
            "la tradizione che c'è dietro",
            "le rifiniture a mano",
            "un oggetto che durerà più di me",
        ),
        "fr": (
            "savoir que l'atelier le fabrique ainsi depuis un siècle",
            "l'histoire de la maison",
            "voir l'artisan travailler",
            "la visite de l'atelier",
            "les pièces d'archives",
            "la tradition derrière l'objet",
            "les finitions à la main",
            "une pièce qui me survivra",
        ),
    }),
    "status_exclusivity": MappingProxyType({
        "en": (
            "being offered the piece before anyone else",
            "a numbered limited edition",
            "the waiting list, and skipping it",
            "knowing only a handful exist",
            "private preview invitations",
            "when my friends notice it immediately",
            "the VIP lounge and the champagne",
            "a piece nobody in my city has",
            "being recognised as a top client",
            "access to the closed-door sale",
            "that it is hard to get",
            "the red carpet feeling",
            "an invitation to the fashion show front row",
            "the rarest colourway",
            "the prestige that comes with it",
        ),
        "it": (
            "averlo prima di tutti",
            "un'edizione limitata numerata",
            "saltare la lista d'attesa",
            "sapere che ne esistono pochissimi",
            "gli inviti alle anteprime private",
            "quando le amiche lo notano subito",
            "essere riconosciuta come cliente top",
            "il prestigio",
        ),
        "fr": (
            "être la première à l'avoir",
            "une édition limitée numérotée",
            "passer devant la liste d'attente",
            "savoir qu'il n'en existe que quelques-uns",
            "les invitations aux avant-premières",
            "quand mes amies le remarquent tout de suite",
            "être reconnue comme cliente privilégiée",
            "le prestige",
        ),
    }),
    "personalised_service": MappingProxyType({
        "en": (
            "my advisor remembering my sizes",
            "a handwritten note from Sofia at the boutique",
            "someone who knows what I already own",
            "being called when my piece arrives",
            "fittings at home",
            "the same sales associate for years",
            "they remembered my daughter's birthday",
            "a private appointment after hours",
            "an advisor who tells me honestly when something does not suit me",
            "alterations done perfectly the first time",
            "a coffee and a chat, never rushed",
            "they set pieces aside for me",
            "feeling looked after",
            "recommendations that really fit my life",
            "a real relationship with the store team",
        ),
        "it": (
            "la mia consulente ricorda le mie taglie",
            "un biglietto scritto a mano",
            "mi chiamano quando arriva il mio pezzo",
            "appuntamento privato in boutique",
            "sempre la stessa commessa da anni",
            "si ricordano del compleanno di mia figlia",
            "sentirmi seguita",
            "un caffè e due chiacchiere, senza fretta",
        ),
        "fr": (
            "ma conseillère se souvient de mes tailles",
            "un mot écrit à la main",
            "on m'appelle quand ma pièce arrive",
            "un rendez-vous privé en boutique",
            "la même vendeuse depuis des années",
            "ils se souviennent de l'anniversaire de ma fille",
            "me sentir choyée",
            "un café et une discussion, sans se presser",
        ),
    }),
    "digital_community": MappingProxyType({
        "en": (
            "unboxing it live for my followers",
            "the app drop notification",
            "voting on the next colour in the community",
            "posting it and getting the brand's repost",
            "chatting with other collectors online",
            "the Discord for members",
            "a virtual try-on that actually works",
            "co-designing a strap in the app",
            "early access through the app",
            "the comments under my post",
            "a livestream launch",
            "digital certificate of authenticity",
            "the online masterclass with the designer",
            "being part of the fan group",
            "sharing the look with my friends on Instagram",
        ),
        "it": (
            "l'unboxing in diretta per i miei follower",
            "la notifica dell'app per il lancio",
            "votare il prossimo colore nella community",
            "il repost del brand",
            "parlare con altri collezionisti online",
            "la prova virtuale nell'app",
            "l'accesso anticipato dall'app",
            "condividerlo su Instagram",
        ),
        "fr": (
            "le déballage en direct pour mes abonnés",
            "la notification de l'appli pour le lancement",
            "voter pour la prochaine couleur dans la communauté",
            "le repost de la marque",
            "échanger avec d'autres collectionneurs en ligne",
            "l'essayage virtuel dans l'appli",
            "l'accès anticipé par l'appli",
            "le partager sur Instagram",
        ),
    }),
    "discreet_privacy": MappingProxyType({
        "en": (
            "plain packaging with no logo on the box",
            "nobody else needs to know",
            "a quiet private room, no audience",
            "they never put my name on a list",
            "delivery without a signature in the lobby",
            "staff who don't gossip",
            "being left alone to decide",
            "no marketing emails afterwards",
            "discretion, above all",
            "paying and leaving without fuss",
            "an appointment when the store is closed",
            "my data staying with them and nobody else",
            "no photos, no social media",
            "an unmarked bag",
            "low key, almost anonymous",
        ),
        "it": (
            "pacco anonimo senza logo",
            "nessun altro deve saperlo",
            "una saletta privata, senza pubblico",
            "personale riservato",
            "niente email promozionali dopo",
            "la discrezione prima di tutto",
            "un sacchetto senza marchio",
            "che i miei dati restino con loro",
        ),
        "fr": (
            "un emballage neutre sans logo",
            "personne d'autre n'a besoin de savoir",
            "un salon privé, sans public",
            "un personnel discret",
            "pas d'e-mails marketing après",
            "la discrétion avant tout",
            "un sac sans marque",
            "que mes données restent chez eux",
        ),
    }),
})

#: Generic answers that say nothing about style or relationship (noise for every group).
FILLER_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "en": ("hard to say", "I just like nice things", "depends on the day", "not sure really",
           "good quality", "nice", "quality and comfort", "it depends", "something nice",
           "n/a", "whatever feels right"),
    "it": ("difficile da dire", "dipende dal giorno", "qualità", "non saprei", "cose belle"),
    "fr": ("difficile à dire", "ça dépend du jour", "la qualité", "je ne sais pas", "de belles choses"),
})

IMPROVE_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "en": ("delivery took two weeks longer than promised", "the packaging arrived damaged",
           "nobody answered my email about the alteration", "the website kept logging me out",
           "too many newsletters", "prices went up again", "the boutique was understaffed",
           "my size was never in stock", "the return process was painful",
           "the advisor I trusted left and nobody told me", "the app crashes at checkout",
           "the strap broke after a month"),
    "it": ("la consegna è arrivata in ritardo", "confezione rovinata", "nessuno ha risposto alla mia email",
           "troppe newsletter", "la mia taglia non c'è mai", "il reso è stato complicato"),
    "fr": ("la livraison avait du retard", "l'emballage était abîmé", "personne n'a répondu à mon e-mail",
           "trop de newsletters", "ma taille n'est jamais disponible", "le retour était compliqué"),
})

EMOJIS: tuple[str, ...] = ("✨", "🖤", "💎", "👗", "🌿", "🔥", "💫", "🌹", "👜", "😊")
_JOINERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "en": (", ", ". ", " and ", "; ", " - "),
    "it": (", ", ". ", " e ", "; "),
    "fr": (", ", ". ", " et ", "; "),
})


def _typo(word: str, rng: np.random.Generator) -> str:
    """One keyboard slip in a word: swap, drop or double a letter."""
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 2))
    kind = rng.integers(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def compose_answer(
    bank: Mapping[str, Mapping[str, tuple[str, ...]]],
    group: str,
    language: str,
    rng: np.random.Generator,
    *,
    max_chars: int,
    off_group_rate: float = 0.10,
    filler_rate: float = 0.15,
    typo_rate: float = 0.08,
    emoji_rate: float = 0.06,
    blank_rate: float = 0.03,
) -> str:
    """Compose one free-text answer from 1–3 phrases of ``group``'s bank, with realistic noise.

    Parameters
    ----------
    bank : mapping
        :data:`STYLE_PHRASES` or :data:`SPECIAL_PHRASES`.
    group : str
        The respondent's true archetype in that bank.
    language : {"en", "it", "fr"}
        Language of the answer.
    rng : numpy.random.Generator
    max_chars : int
        The item's maximum length; longer answers are cut.
    off_group_rate, filler_rate, typo_rate, emoji_rate, blank_rate : float
        Probabilities of one phrase from another group, a generic filler phrase, a typo, an emoji
        and an empty or whitespace-only answer.
    """
    if rng.random() < blank_rate:
        return ("", " ", "  ", "\n")[int(rng.integers(4))]
    own = bank[group][language]
    n_phrases = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.20]))
    picks = [own[i] for i in rng.choice(len(own), size=n_phrases, replace=False)]
    if rng.random() < off_group_rate:
        others = [g for g in bank if g != group]
        other = bank[others[int(rng.integers(len(others)))]][language]
        picks.append(other[int(rng.integers(len(other)))])
    if rng.random() < filler_rate:
        fillers = FILLER_PHRASES[language]
        picks.insert(int(rng.integers(len(picks) + 1)), fillers[int(rng.integers(len(fillers)))])
    joiner = _JOINERS[language][int(rng.integers(len(_JOINERS[language])))]
    text = joiner.join(picks)
    if rng.random() < typo_rate:
        words = text.split(" ")
        k = int(rng.integers(len(words)))
        words[k] = _typo(words[k], rng)
        text = " ".join(words)
    style = rng.random()
    if style < 0.5:
        text = text[:1].upper() + text[1:]
    elif style < 0.55:
        text = text.upper()
    if rng.random() < emoji_rate:
        text = f"{text} {EMOJIS[int(rng.integers(len(EMOJIS)))]}"
    if rng.random() < 0.05:
        text = f" {text}  "
    return text[:max_chars]


def improve_answer(language: str, rng: np.random.Generator, *, max_chars: int = 1000) -> str:
    """A complaint for the ``improve`` item (shown to detractors and passives)."""
    bank = IMPROVE_PHRASES[language]
    n = int(rng.choice([1, 2], p=[0.7, 0.3]))
    picks = [bank[i] for i in rng.choice(len(bank), size=n, replace=False)]
    text = ". ".join(picks)
    return (text[:1].upper() + text[1:])[:max_chars]
