"""The streaming and store services a user may say they have (`preferences.providers`): TMDb's
watch provider ids of the major ones, with their names. An id not here is refused (a 422
naming it); a service missing here is one line to add. (TMDb's full list is per region and
long; these are the ones its answers carry most, and every one the sandbox offers.)"""

PROVIDERS: dict[int, str] = {
    2: "Apple TV",
    3: "Google Play Movies",
    7: "Fandango At Home",
    8: "Netflix",
    9: "Amazon Prime Video",
    10: "Amazon Video",
    15: "Hulu",
    29: "Sky Go",
    35: "Rakuten TV",
    39: "Now TV",
    68: "Microsoft Store",
    119: "Amazon Prime Video",
    188: "YouTube Premium",
    192: "YouTube",
    283: "Crunchyroll",
    337: "Disney Plus",
    350: "Apple TV Plus",
    381: "Canal+",
    386: "Peacock",
    387: "Peacock Premium",
    531: "Paramount Plus",
    1899: "Max",
}
MAX_PROVIDERS_PER_USER = 30


def unknown_providers(provider_ids: list[int]) -> list[int]:
    """The ids among these that are not a known provider's, in order."""
    return [p for p in provider_ids if p not in PROVIDERS]
