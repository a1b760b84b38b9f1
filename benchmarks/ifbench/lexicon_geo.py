"""Geographic facts the ``custom:*`` checkers need: Africa's countries and Europe's capitals."""

from __future__ import annotations

import unicodedata

#: The 54 UN-member countries of Africa: canonical name -> accepted alternative spellings.
AFRICAN_COUNTRIES: dict[str, tuple[str, ...]] = {
    "Algeria": (),
    "Angola": (),
    "Benin": (),
    "Botswana": (),
    "Burkina Faso": (),
    "Burundi": (),
    "Cabo Verde": ("Cape Verde",),
    "Cameroon": (),
    "Central African Republic": (),
    "Chad": (),
    "Comoros": (),
    "Democratic Republic of the Congo": ("DR Congo", "DRC", "Congo, Democratic Republic of the", "Congo (Kinshasa)"),
    "Republic of the Congo": ("Congo", "Congo, Republic of the", "Congo (Brazzaville)", "Congo-Brazzaville"),
    "Djibouti": (),
    "Egypt": (),
    "Equatorial Guinea": (),
    "Eritrea": (),
    "Eswatini": ("Swaziland",),
    "Ethiopia": (),
    "Gabon": (),
    "Gambia": ("The Gambia",),
    "Ghana": (),
    "Guinea": (),
    "Guinea-Bissau": (),
    "Ivory Coast": ("Cote d'Ivoire", "Côte d'Ivoire"),
    "Kenya": (),
    "Lesotho": (),
    "Liberia": (),
    "Libya": (),
    "Madagascar": (),
    "Malawi": (),
    "Mali": (),
    "Mauritania": (),
    "Mauritius": (),
    "Morocco": (),
    "Mozambique": (),
    "Namibia": (),
    "Niger": (),
    "Nigeria": (),
    "Rwanda": (),
    "Sao Tome and Principe": ("São Tomé and Príncipe",),
    "Senegal": (),
    "Seychelles": (),
    "Sierra Leone": (),
    "Somalia": (),
    "South Africa": (),
    "South Sudan": (),
    "Sudan": (),
    "Tanzania": ("United Republic of Tanzania",),
    "Togo": (),
    "Tunisia": (),
    "Uganda": (),
    "Zambia": (),
    "Zimbabwe": (),
}

#: Capitals of European countries with their latitude in degrees north, and alternative spellings.
EUROPEAN_CAPITALS: dict[str, tuple[float, tuple[str, ...]]] = {
    "Reykjavik": (64.1466, ("Reykjavík",)),
    "Helsinki": (60.1699, ()),
    "Oslo": (59.9139, ()),
    "Tallinn": (59.4370, ()),
    "Stockholm": (59.3293, ()),
    "Riga": (56.9496, ()),
    "Moscow": (55.7558, ()),
    "Copenhagen": (55.6761, ()),
    "Vilnius": (54.6872, ()),
    "Minsk": (53.9006, ()),
    "Dublin": (53.3498, ()),
    "Berlin": (52.5200, ()),
    "Amsterdam": (52.3676, ()),
    "Warsaw": (52.2297, ()),
    "London": (51.5074, ()),
    "Brussels": (50.8503, ()),
    "Kyiv": (50.4501, ("Kiev",)),
    "Prague": (50.0755, ()),
    "Luxembourg": (49.6116, ("Luxembourg City",)),
    "Paris": (48.8566, ()),
    "Vienna": (48.2082, ()),
    "Bratislava": (48.1486, ()),
    "Budapest": (47.4979, ()),
    "Vaduz": (47.1410, ()),
    "Chisinau": (47.0105, ("Chișinău", "Chisinău", "Kishinev")),
    "Bern": (46.9480, ("Berne",)),
    "Ljubljana": (46.0569, ()),
    "Zagreb": (45.8150, ()),
    "Belgrade": (44.7866, ()),
    "Bucharest": (44.4268, ()),
    "San Marino": (43.9424, ()),
    "Sarajevo": (43.8563, ()),
    "Monaco": (43.7384, ()),
    "Sofia": (42.6977, ()),
    "Pristina": (42.6629, ("Prishtina",)),
    "Andorra la Vella": (42.5063, ()),
    "Podgorica": (42.4304, ()),
    "Skopje": (41.9981, ()),
    "Rome": (41.9028, ()),
    "Vatican City": (41.9029, ()),
    "Tirana": (41.3275, ()),
    "Madrid": (40.4168, ()),
    "Lisbon": (38.7223, ()),
    "Athens": (37.9838, ()),
    "Valletta": (35.8989, ()),
    "Nicosia": (35.1856, ()),
}


def fold(name: str) -> str:
    """Lower-case, accents removed, whitespace collapsed: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().replace("’", "'").split())


def _alias_table(entries: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in entries.items():
        for name in (canonical, *aliases):
            table[fold(name)] = canonical
    return table


AFRICAN_COUNTRY_ALIASES = _alias_table(AFRICAN_COUNTRIES)
EUROPEAN_CAPITAL_ALIASES = _alias_table({name: aliases for name, (_, aliases) in EUROPEAN_CAPITALS.items()})
