"""Titles in other languages: TMDb's titles of a few well-known films in French, German,
Spanish and Italian (the languages the sandbox translates overviews into), written down by
hand. Every other title stays as it is in every language, as on TMDb when a title has no
translation."""

_TRANSLATED: dict[int, dict[str, str]] = {  # MovieLens id -> language -> title
    7: {"fr": "L'Armée des 12 singes", "es": "Doce monos", "it": "L'esercito delle 12 scimmie"},
    50: {
        "fr": "La Guerre des étoiles",
        "de": "Krieg der Sterne",
        "es": "La guerra de las galaxias",
        "it": "Guerre stellari",
    },
    64: {
        "fr": "Les Évadés",
        "de": "Die Verurteilten",
        "es": "Cadena perpetua",
        "it": "Le ali della libertà",
    },
    71: {
        "fr": "Le Roi lion",
        "de": "Der König der Löwen",
        "es": "El rey león",
        "it": "Il re leone",
    },
    98: {
        "fr": "Le Silence des agneaux",
        "de": "Das Schweigen der Lämmer",
        "es": "El silencio de los corderos",
        "it": "Il silenzio degli innocenti",
    },
    127: {"fr": "Le Parrain", "de": "Der Pate", "es": "El padrino", "it": "Il padrino"},
    172: {
        "fr": "L'Empire contre-attaque",
        "de": "Das Imperium schlägt zurück",
        "es": "El imperio contraataca",
        "it": "L'Impero colpisce ancora",
    },
    173: {
        "de": "Die Braut des Prinzen",
        "es": "La princesa prometida",
        "it": "La storia fantastica",
    },
    174: {
        "fr": "Les Aventuriers de l'arche perdue",
        "de": "Jäger des verlorenen Schatzes",
        "es": "En busca del arca perdida",
        "it": "I predatori dell'arca perduta",
    },
    181: {
        "fr": "Le Retour du Jedi",
        "de": "Die Rückkehr der Jedi-Ritter",
        "es": "El retorno del Jedi",
        "it": "Il ritorno dello Jedi",
    },
    204: {
        "fr": "Retour vers le futur",
        "de": "Zurück in die Zukunft",
        "es": "Regreso al futuro",
        "it": "Ritorno al futuro",
    },
    286: {
        "fr": "Le Patient anglais",
        "de": "Der englische Patient",
        "es": "El paciente inglés",
        "it": "Il paziente inglese",
    },
    294: {
        "fr": "Menteur, menteur",
        "de": "Der Dummschwätzer",
        "es": "Mentiroso compulsivo",
        "it": "Bugiardo bugiardo",
    },
    318: {
        "fr": "La Liste de Schindler",
        "de": "Schindlers Liste",
        "es": "La lista de Schindler",
    },
}


def title(movie_id: int, language: str, original: str) -> str:
    """The movie's title in `language`: its translation where one is known, else `original`."""
    return _TRANSLATED.get(movie_id, {}).get(language, original)
