"""Sentence and word splitting without NLTK's punkt data, plus small text helpers the checkers share.

The splitting rules imitate the tokenizers the reference checkers are built on (NLTK's punkt sentence
splitter and Treebank word tokenizer) closely enough to reproduce their verdicts on the gold data;
they are our own rules, not ports.
"""

from __future__ import annotations

import re
import string
import zipfile
from functools import lru_cache
from pathlib import Path

# --- sentences -------------------------------------------------------------------------------

#: Lower-cased words that end with a period without ending a sentence.
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "u.n", "no", "fig", "approx", "dept", "est", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "gen", "col", "lt", "sgt", "capt", "rev", "gov", "sen", "rep", "vol", "vols", "pp", "ed", "eds", "cf", "al", "ca"]
)

_CLOSERS = "\"'”’)]}»"
# A candidate boundary: terminal punctuation (with closing quotes/brackets), then whitespace.
_BOUNDARY = re.compile(r"[.!?]+[" + re.escape(_CLOSERS) + r"]*(?=\s)")


def _ends_with_abbreviation(text: str) -> bool:
    """Whether ``text`` (which ends with a period) ends with an abbreviation or an initial."""
    match = re.search(r"(\S+)\.$", text)
    if not match:
        return False
    token = match.group(1).lstrip("(\"'“‘[").lower()
    if token in ABBREVIATIONS:
        return True
    # single-letter initials such as "J." or dotted forms such as "U.S."
    return bool(re.fullmatch(r"[a-z](\.[a-z])*", token))


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences at ``.``, ``!`` or ``?`` (plus closing quotes) followed by
    whitespace, except after abbreviations and initials. Like punkt, a bare line break is not a
    boundary. Returns stripped, non-empty sentences.
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        candidate = text[start:end]
        if match.group(0).startswith(".") and len(match.group(0).rstrip(_CLOSERS)) == 1:
            if _ends_with_abbreviation(candidate.rstrip(_CLOSERS)):
                continue
        sentences.append(candidate)
        start = end
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


# --- words -----------------------------------------------------------------------------------

_WORD_CHARS = re.compile(r"\w+")


def alnum_words(text: str) -> list[str]:
    """Maximal runs of word characters (letters, digits, underscore): "don't" -> ["don", "t"]."""
    return _WORD_CHARS.findall(text)


def whitespace_words(text: str) -> list[str]:
    """Whitespace-separated chunks, punctuation kept."""
    return text.split()


_EDGE_PUNCT = string.punctuation + "“”‘’«»—–…¿¡"


def plain_words(text: str) -> list[str]:
    """Whitespace-separated chunks with surrounding punctuation removed; empty chunks dropped."""
    out = []
    for chunk in text.split():
        word = chunk.strip(_EDGE_PUNCT)
        if word:
            out.append(word)
    return out


_CONTRACTIONS = re.compile(r"(?i)^(.+?)(n't|'s|'re|'ve|'ll|'d|'m|’s|’re|’ve|’ll|’d|’m|n’t)$")
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def treebank_words(text: str) -> list[str]:
    """Tokens in the style of NLTK's ``word_tokenize``: punctuation marks are separate tokens and
    clitics are split off ("don't" -> "do", "n't"); hyphenated words stay whole."""
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        match = _CONTRACTIONS.match(token)
        if match and match.group(1)[-1:].isalnum():
            tokens.extend([match.group(1), match.group(2)])
        else:
            tokens.append(token)
    return tokens


def counted_words(text: str) -> list[str]:
    """The words a word count counts: Treebank-style tokens that hold a letter or digit."""
    return [t for t in treebank_words(text) if any(c.isalnum() for c in t)]


# --- paragraphs and lines --------------------------------------------------------------------


def nonempty_lines(text: str) -> list[str]:
    """Lines with any non-whitespace content (not stripped)."""
    return [line for line in text.split("\n") if line.strip()]


# --- characters ------------------------------------------------------------------------------

_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2300, 0x23FF),
    (0x2B00, 0x2BFF),
    (0x2190, 0x21FF),
    (0x2900, 0x297F),
    (0x25A0, 0x25FF),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x24C2, 0x24C2),
    (0xE0020, 0xE007F),
)
#: Characters that only modify a neighbouring emoji (joiners, variation selectors, skin tones).
EMOJI_MODIFIERS = frozenset({"\u200d", "\ufe0f", "\ufe0e", "\u20e3"} | {chr(c) for c in range(0x1F3FB, 0x1F400)})


def is_emoji(char: str) -> bool:
    """Whether a single character is an emoji (or part of an emoji sequence)."""
    if char in EMOJI_MODIFIERS:
        return True
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _EMOJI_RANGES)


def is_japanese(char: str) -> bool:
    """Hiragana, katakana, kanji (CJK ideographs) or Japanese punctuation/full-width forms."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x3000 <= code <= 0x303F
        or 0xFF00 <= code <= 0xFFEF
        or 0x31F0 <= code <= 0x31FF
    )


VOWELS = frozenset("aeiou")


def count_syllables(word: str) -> int:
    """Heuristic English syllable count: vowel groups, minus a silent final "e", at least 1."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    groups = re.findall(r"[aeiouy]+", w)
    count = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(count, 1)


# --- stopwords -------------------------------------------------------------------------------


class StopwordsUnavailableError(FileNotFoundError):
    """Raised when the NLTK stopword archive cannot be found."""


STOPWORDS_ARCHIVE = "nltk_stopwords.zip"
_stopwords_folder: Path | None = None


def set_stopwords_dir(ifbench_folder: str | Path | None) -> None:
    """Read the stopword archive from ``ifbench_folder`` from now on (``load_splits`` calls this with
    the data directory it loaded from, so the checkers follow a custom ``data_dir``); None restores
    the default location."""
    global _stopwords_folder
    _stopwords_folder = Path(ifbench_folder) if ifbench_folder is not None else None


def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list, read from ``nltk_stopwords.zip`` in the IFBench data folder
    (the one ``load_splits`` used, else ``<resolve_data_dir()>/ifbench``)."""
    from benchmarks.common import resolve_data_dir

    folder = _stopwords_folder or resolve_data_dir(None) / "ifbench"
    return _read_stopwords(folder / STOPWORDS_ARCHIVE)


@lru_cache(maxsize=4)
def _read_stopwords(path: Path) -> frozenset[str]:
    if not path.exists():
        raise StopwordsUnavailableError(
            f"IFBench checkers need NLTK's English stopword list at {path}; pass data_dir=... to load_splits or "
            "set $GEPA_DSPY_DATA to the folder that holds ifbench/nltk_stopwords.zip"
        )
    with zipfile.ZipFile(path) as archive:
        try:
            words = archive.read("stopwords/english").decode("utf-8").split()
        except KeyError:
            raise StopwordsUnavailableError(f"{path} has no stopwords/english entry") from None
    return frozenset(w.strip().lower() for w in words if w.strip())
