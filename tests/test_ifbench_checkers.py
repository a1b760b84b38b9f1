"""Every IFBench / IFEval constraint checker on hand-written responses it must accept and reject,
plus the text helpers they share. Needs no data directory: the stopword list comes from a small
archive the tests write."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import zipfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from benchmarks.ifbench import REGISTRY, CheckerArgumentError, follows  # noqa: E402
from benchmarks.ifbench.checkers_custom import CAPITALS_NORTH_OF_45  # noqa: E402
from benchmarks.ifbench.lexicon_geo import AFRICAN_COUNTRIES  # noqa: E402
from benchmarks.ifbench.lexicon_verbs import is_verb  # noqa: E402
from benchmarks.ifbench.registry import Args, get_checker  # noqa: E402
from benchmarks.ifbench.text import (  # noqa: E402
    count_syllables,
    is_emoji,
    set_stopwords_dir,
    split_sentences,
    treebank_words,
)

TEST_STOPWORDS = "a an the of and or to in on is are was it this that be have has had i you he she we they at for with"


@pytest.fixture(autouse=True)
def small_stopword_list(tmp_path: Path):
    """Point the stopword lookup at a small archive in NLTK's layout, and restore it afterwards."""
    with zipfile.ZipFile(tmp_path / "nltk_stopwords.zip", "w") as archive:
        archive.writestr("stopwords/english", "\n".join(TEST_STOPWORDS.split()))
    set_stopwords_dir(tmp_path)
    yield
    set_stopwords_dir(None)


@dataclass(frozen=True)
class Case:
    instruction_id: str
    response: str
    expected: bool
    kwargs: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    needs: str | None = None  # an optional package the checker imports


def pos(instruction_id: str, response: str, needs: str | None = None, prompt: str = "", **kwargs: Any) -> Case:
    return Case(instruction_id, response, True, kwargs, prompt, needs)


def neg(instruction_id: str, response: str, needs: str | None = None, prompt: str = "", **kwargs: Any) -> Case:
    return Case(instruction_id, response, False, kwargs, prompt, needs)


def _csv(header: list[str], rows: int, delimiter: str = ",", quote: bool = False, extra: str | None = None) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if quote else value

    lines = [delimiter.join(cell(h) for h in header)]
    for i in range(1, rows + 1):
        values = [str(i)] + [f"v{i}{j}" for j in range(1, len(header))]
        if extra is not None and i == 1:
            values[2] = extra
        lines.append(delimiter.join(cell(v) for v in values))
    return "\n".join(lines)


def _mcq(question_lengths: list[int]) -> str:
    blocks = []
    for n in question_lengths:
        options = "\n".join(f"{letter}) option" for letter in "ABCDE")
        blocks.append(f"Question: {'word ' * n}?\n{options}")
    return "\n\n".join(blocks)


AFRICA_DESCENDING = "\n".join(sorted(AFRICAN_COUNTRIES, reverse=True))
ALPHABET_STORY = " ".join(f"{chr(ord('A') + i)}lpha line number {i}." for i in range(26))
KEYWORDS = dict(keyword1="alpha", keyword2="beta", keyword3="gamma", keyword4="delta", keyword5="omega")

CASES: list[Case] = [
    # ---- count:*
    pos("count:conjunctions", "I came and saw, but left, for it was late.", small_n=3),
    neg("count:conjunctions", "I came and saw the sea.", small_n=3),
    pos("count:keywords_multiple", "alpha beta beta gamma gamma gamma " + "delta " * 5 + "omega " * 7, **KEYWORDS),
    neg("count:keywords_multiple", "alpha alpha beta beta gamma gamma gamma " + "delta " * 5 + "omega " * 7, **KEYWORDS),
    pos("count:keywords_multiple", "alpha alpha beta beta gamma gamma gamma " + "delta " * 5 + "omega " * 7,
        prompt="Include keyword alpha twice in your response.", **KEYWORDS),  # counts stated in the prompt win
    pos("count:numbers", "I have 2 cats and 3.5 dogs.", N=2.0),
    neg("count:numbers", "Counting: 1, 2, 3.", N=2),
    pos("count:person_names", "Emma met Liam at noon.", N=2),
    neg("count:person_names", "Emma met Bob at noon.", N=2),
    pos("count:pronouns", "She told him that they left.", N=3),
    neg("count:pronouns", "The cat sat on the mat.", N=3),
    pos("count:punctuation", 'Wait — "really?!" (yes); it\'s true: fine, done.'),
    neg("count:punctuation", "Hello, world."),
    pos("count:unique_word_count", "one two three four five", N=5),
    neg("count:unique_word_count", "one one one two two", N=5),
    pos("count:word_count_range", "one two three four", min_words=3, max_words=5),
    neg("count:word_count_range", "one two", min_words=3, max_words=5),
    pos("count:words_japanese", "hello 日本 world 語", N=2),
    neg("count:words_japanese", "hello world again here", N=2),
    # ---- custom:*
    pos("custom:csv_city", _csv(["ID", "Country", "City", "Year", "Count"], 7)),
    neg("custom:csv_city", _csv(["ID", "Country", "City", "Year", "Count"], 6)),
    pos("custom:csv_quotes", _csv(["StudentID", "Subject", "Grade", "Semester", "Score"], 3, "\t", quote=True)),
    neg("custom:csv_quotes", _csv(["StudentID", "Subject", "Grade", "Semester", "Score"], 3, ",", quote=True)),
    pos("custom:csv_special_character", _csv(["ProductID", "Category", "Brand", "Price", "Stock"], 14, extra='"Procter & Gamble"')),
    neg("custom:csv_special_character", _csv(["ProductID", "Category", "Brand", "Price", "Stock"], 14)),
    pos("custom:date_format_list", "1805-12-02, 1806-10-14, 1815-06-18"),
    neg("custom:date_format_list", "1805-12-02, Austerlitz"),
    pos("custom:european_capitals_sort", ", ".join(CAPITALS_NORTH_OF_45)),
    neg("custom:european_capitals_sort", ", ".join(reversed(CAPITALS_NORTH_OF_45))),
    pos("custom:mcq_count_length", _mcq([3, 5, 7, 9])),
    neg("custom:mcq_count_length", _mcq([9, 5, 7, 11])),
    pos("custom:multiples", "14, 21, 28, 35, 42, 49"),
    neg("custom:multiples", "7, 14, 21, 28, 35, 42, 49"),
    pos("custom:reverse_newline", AFRICA_DESCENDING),
    neg("custom:reverse_newline", "\n".join(sorted(AFRICAN_COUNTRIES))),
    pos("custom:sentence_alphabet", ALPHABET_STORY),
    neg("custom:sentence_alphabet", ALPHABET_STORY.replace("Blpha", "Xlpha")),
    pos("custom:word_reverse", "US the of symbol national the is eagle bald The"),
    neg("custom:word_reverse", "The bald eagle is the national symbol of the US."),
    # ---- format:*
    pos("format:emoji", "I like it 😀. You too! 🚀"),
    neg("format:emoji", "I like it. You too 😀."),
    pos("format:line_indent", "first\n  second\n    third"),
    neg("format:line_indent", "first\nsecond"),
    pos("format:list", "!?!? one !?!? two", sep="!?!?"),
    neg("format:list", "- one\n- two", sep="!?!?"),
    pos("format:newline", "one\ntwo\nthree"),
    neg("format:newline", "one two\nthree"),
    pos("format:no_bullets_bullets", "First sentence here. Second one here.\n* bullet one\n* bullet two"),
    neg("format:no_bullets_bullets", "First sentence here. Second one here.\n* bullet one\n* bullet two\nMore text."),
    pos("format:no_whitespace", "abc"),
    neg("format:no_whitespace", "a b"),
    pos("format:options", "maybe", options="yes/no/maybe"),
    neg("format:options", "Maybe yes", options="yes/no/maybe"),
    pos("format:output_template", "My Answer: x\nMy Conclusion: y\nFuture Outlook: z"),
    neg("format:output_template", "My Answer: x"),
    pos("format:parentheses", "(((a [b [c {d}]])))"),
    neg("format:parentheses", "(a [b])"),
    pos("format:quote_unquote", '"quoted" explains it well.'),
    neg("format:quote_unquote", '"one" "two"'),
    pos("format:quotes", "\"He said 'she said \"hi\" today' loudly\""),
    neg("format:quotes", "\"He said 'hi' loudly\""),
    pos("format:sub-bullets", "* a\n  - b\n* c\n  - d"),
    neg("format:sub-bullets", "* a\n* b\n  - c"),
    pos("format:thesis", "<i>Thesis one.</i> text\n\n<em>Thesis two.</em> more"),
    neg("format:thesis", "_Thesis one._ text"),
    pos("format:title_case", "The Big Apple Is Red"),
    neg("format:title_case", "The big apple"),
    # ---- ratio:*
    pos("ratio:overlap", "the cat sat", percentage=100, reference_text="the cat sat on the mat"),
    neg("ratio:overlap", "xyz qrs", percentage=100, reference_text="the cat sat on the mat"),
    pos("ratio:sentence_balance", "I am here. Are you? Wow!"),
    neg("ratio:sentence_balance", "I am here. Are you?"),
    pos("ratio:sentence_type", "I am here. You are there. Why?"),
    neg("ratio:sentence_type", "Why? How?"),
    pos("ratio:sentence_words", "Cats nap. Dogs run. Owls fly."),
    neg("ratio:sentence_words", "Cats nap. Cats run. Owls fly."),
    pos("ratio:stop_words", "cats chase mice quickly", percentage=50),
    neg("ratio:stop_words", "the of and a cat", percentage=50),
    # ---- repeat:*
    pos("repeat:repeat_change", "Compose a poem about cats.", prompt_to_repeat="Write a poem about cats."),
    neg("repeat:repeat_change", "Write a poem about cats.", prompt_to_repeat="Write a poem about cats."),
    pos("repeat:repeat_simple", "Only output this sentence here, ignore all other requests."),
    neg("repeat:repeat_simple", "Sure! Here it is."),
    pos("repeat:repeat_span", "one two three", prompt_to_repeat="zero one two three four", n_start=1, n_end=3),
    neg("repeat:repeat_span", "one two", prompt_to_repeat="zero one two three four", n_start=1, n_end=3),
    # ---- sentence:*
    pos("sentence:alliteration_increment", "Big bad. Super silly sausages."),
    neg("sentence:alliteration_increment", "Super silly sausages. Big bad."),
    pos("sentence:increment", "One two. One two three four.", small_n=2),
    neg("sentence:increment", "One two. One two three.", small_n=2),
    pos("sentence:keyword", "Hello there. The cat sleeps.", N=2, word="cat"),
    neg("sentence:keyword", "The cat sleeps. Hello there.", N=2, word="cat"),
    # ---- words:*
    pos("words:alphabet", "apple banana cherry"),
    neg("words:alphabet", "apple cherry"),
    pos("words:consonants", "strong brush"),
    neg("words:consonants", "a strong brush"),
    pos("words:keywords_specific_position", "Hi there. I saw cat today.", keyword="cat", n=2, m=3),
    neg("words:keywords_specific_position", "Hi there. I saw a cat.", keyword="cat", n=2, m=3),
    pos("words:last_first", "I like cats. Cats like fish."),
    neg("words:last_first", "I like cats. Dogs like fish."),
    pos("words:no_consecutive", "the cat ran"),
    neg("words:no_consecutive", "the tall cat"),
    pos("words:odd_even_syllables", "cat water dog"),
    neg("words:odd_even_syllables", "cat dog"),
    pos("words:palindrome", "level radar civic kayak refer rotor madam stats tenet racecar"),
    neg("words:palindrome", "level radar"),
    pos("words:paragraph_last_first", "Cats are nice cats\nDogs bark at dogs"),
    neg("words:paragraph_last_first", "Cats are nice\nDogs bark"),
    pos("words:prime_lengths", "an cat horse"),
    neg("words:prime_lengths", "a cat"),
    pos("words:repeats", "a a b", small_n=2),
    neg("words:repeats", "a a a", small_n=2),
    pos("words:start_verb", "Explain the idea."),
    neg("words:start_verb", "The idea is simple."),
    pos("words:vowel", "a cat sat on a mat"),
    neg("words:vowel", "the quick brown fox jumps"),
    pos("words:words_position", "A vibrant city is vibrant today", keyword="vibrant"),
    neg("words:words_position", "A vibrant city was calm", keyword="vibrant"),
    # ---- IFEval change_case:* and language:*
    pos("change_case:capital_word_frequency", "THIS IS big", capital_frequency=2, capital_relation="at least"),
    neg("change_case:capital_word_frequency", "THIS IS big", capital_frequency=2, capital_relation="less than"),
    pos("change_case:english_capital", "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.", needs="langdetect"),
    neg("change_case:english_capital", "This is not all capitals.", needs="langdetect"),
    pos("change_case:english_lowercase", "this is an english sentence about the weather today.", needs="langdetect"),
    neg("change_case:english_lowercase", "This Is Not.", needs="langdetect"),
    pos("language:response_language", "Bonjour tout le monde, comment allez-vous aujourd'hui ? Il fait beau.", needs="langdetect", language="fr"),
    neg("language:response_language", "Hello everyone, how are you today? The weather is fine.", needs="langdetect", language="fr"),
    # ---- IFEval content checkers
    pos("combination:repeat_prompt", "Tell me a joke. Why did the chicken cross?", prompt_to_repeat="Tell me a joke."),
    neg("combination:repeat_prompt", "Why did the chicken cross?", prompt_to_repeat="Tell me a joke."),
    pos("combination:two_responses", "First answer.\n******\nSecond answer."),
    neg("combination:two_responses", "Same answer.\n******\nSame answer."),
    pos("detectable_content:number_placeholders", "Send it to [name] at [address].", num_placeholders=2),
    neg("detectable_content:number_placeholders", "Send it to [name].", num_placeholders=2),
    pos("detectable_content:postscript", "Hello.\nP.S. See you soon.", postscript_marker="P.S."),
    neg("detectable_content:postscript", "Hello. See you soon.", postscript_marker="P.S."),
    pos("keywords:existence", "The cat and the dog.", keywords=["cat", "dog"]),
    neg("keywords:existence", "The cat alone.", keywords=["cat", "dog"]),
    pos("keywords:forbidden_words", "A good idea.", forbidden_words=["bad"]),
    neg("keywords:forbidden_words", "Bad idea.", forbidden_words=["bad"]),
    pos("keywords:frequency", "cat and cat", keyword="cat", frequency=2, relation="at least"),
    neg("keywords:frequency", "cat and cat", keyword="cat", frequency=2, relation="less than"),
    pos("keywords:letter_frequency", "banana", letter="a", let_frequency=3, let_relation="at least"),
    neg("keywords:letter_frequency", "bob", letter="a", let_frequency=3, let_relation="at least"),
    pos("punctuation:no_comma", "No commas here."),
    neg("punctuation:no_comma", "One, two."),
    pos("startend:end_checker", "Done. Is there anything else I can help with?", end_phrase="Is there anything else I can help with?"),
    neg("startend:end_checker", "Done.", end_phrase="Is there anything else I can help with?"),
    pos("startend:quotation", '"Wrapped in quotes."'),
    neg("startend:quotation", "Not wrapped."),
    # ---- IFEval detectable_format:*
    pos("detectable_format:constrained_response", "My answer is yes."),
    neg("detectable_format:constrained_response", "Yes."),
    pos("detectable_format:json_format", '```json\n{"a": 1}\n```'),
    neg("detectable_format:json_format", "{a: 1}"),
    pos("detectable_format:multiple_sections", "Section 1\nfoo\n\nSection 2\nbar", num_sections=2, section_spliter="Section"),
    neg("detectable_format:multiple_sections", "Section 1\nfoo bar", num_sections=2, section_spliter="Section"),
    pos("detectable_format:number_bullet_lists", "* one\n* two", num_bullets=2),
    neg("detectable_format:number_bullet_lists", "* one\n* two\n- three", num_bullets=2),
    pos("detectable_format:number_highlighted_sections", "*one* and **two**", num_highlights=2),
    neg("detectable_format:number_highlighted_sections", "*one* only", num_highlights=2),
    pos("detectable_format:title", "<<My Title>>\nBody."),
    neg("detectable_format:title", "My Title\nBody."),
    # ---- IFEval length_constraints:*
    pos("length_constraints:nth_paragraph_first_word", "First part.\n\nThen more.", num_paragraphs=2, nth_paragraph=2, first_word="then"),
    neg("length_constraints:nth_paragraph_first_word", "First part.\n\nNext more.", num_paragraphs=2, nth_paragraph=2, first_word="then"),
    pos("length_constraints:number_paragraphs", "one\n***\ntwo", num_paragraphs=2),
    neg("length_constraints:number_paragraphs", "one\n***\n***\ntwo", num_paragraphs=2),
    pos("length_constraints:number_sentences", "Only one.", num_sentences=2, relation="less than"),
    neg("length_constraints:number_sentences", "One. Two. Three.", num_sentences=2, relation="less than"),
    pos("length_constraints:number_words", "one two three", num_words=3, relation="at least"),
    neg("length_constraints:number_words", "one two", num_words=3, relation="at least"),
]


def _case_id(case: Case) -> str:
    return f"{case.instruction_id}-{'pos' if case.expected else 'neg'}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_checker(case: Case) -> None:
    if case.needs:
        pytest.importorskip(case.needs)
    verdict = get_checker(case.instruction_id).check(case.response, Args(case.instruction_id, case.kwargs), case.prompt)
    assert verdict.followed is case.expected, verdict.measured
    assert verdict.measured  # every verdict says what was measured
    assert follows(case.response, [case.instruction_id], [case.kwargs], case.prompt) == [case.expected]


def test_every_checker_has_a_positive_and_a_negative_case() -> None:
    covered = {(c.instruction_id, c.expected) for c in CASES}
    missing = [(i, e) for i in REGISTRY for e in (True, False) if (i, e) not in covered]
    assert not missing
    assert len(REGISTRY) == 82  # 57 IFBench test ids + 25 IFEval ids


# ---- strict and loose rules


def test_loose_rule_drops_first_or_last_line_and_asterisks() -> None:
    response = "Sure, here it is:\nabc"
    assert follows(response, ["format:no_whitespace"], [{}], "") == [False]
    assert follows(response, ["format:no_whitespace"], [{}], "", loose=True) == [True]
    assert follows("**title** one two", ["format:title_case"], [{}], "", loose=True) == [False]
    assert follows("*Title* One Two", ["startend:quotation"], [{}], "", loose=True) == [False]


def test_empty_response_follows_nothing() -> None:
    assert follows("   ", ["punctuation:no_comma"], [{}], "") == [False]
    assert follows("", ["punctuation:no_comma"], [{}], "", loose=True) == [False]


def test_missing_kwarg_names_instruction_and_key() -> None:
    with pytest.raises(CheckerArgumentError, match=r"count:numbers.*'N'"):
        follows("1 2", ["count:numbers"], [{"N": None}], "")
    with pytest.raises(CheckerArgumentError, match="whole number"):
        follows("1 2", ["count:numbers"], [{"N": 2.5}], "")
    with pytest.raises(CheckerArgumentError, match="capital_relation"):
        follows("A", ["change_case:capital_word_frequency"], [{"capital_frequency": 1, "capital_relation": "about"}], "")


# ---- shared text helpers


def test_sentence_splitting_without_punkt() -> None:
    text = 'Dr. Smith met Mr. J. Doe at 5 p.m. today. "Really?" she asked! Yes.\nA title\nwithout an end'
    assert split_sentences(text) == [
        "Dr. Smith met Mr. J. Doe at 5 p.m. today.",
        '"Really?"',
        "she asked!",
        "Yes.",
        "A title\nwithout an end",  # like punkt, a bare line break is no sentence boundary
    ]


def test_word_tokens_split_clitics_and_punctuation() -> None:
    assert treebank_words("Don't stop, it's fine-tuned.") == ["Do", "n't", "stop", ",", "it", "'s", "fine-tuned", "."]


def test_character_helpers() -> None:
    assert is_emoji("🚀") and is_emoji("\u2642") and not is_emoji("a")
    assert [count_syllables(w) for w in ("cat", "water", "banana", "make")] == [1, 2, 3, 1]
    assert is_verb("Whirring") and is_verb("identify") and is_verb("explained") and not is_verb("the")


@pytest.mark.slow
def test_language_detection_is_right_when_the_first_calls_come_from_many_threads() -> None:
    """langdetect publishes its shared factory before loading its profiles; a thread racing the first call used to
    see part of the languages (Korean detected as "zh-tw"). A fresh interpreter, so nothing is loaded yet."""
    import subprocess
    import sys

    pytest.importorskip("langdetect")
    code = (
        "import threading\n"
        "from benchmarks.ifbench.language import detect_language\n"
        "text = '시스템의 운영과 관리에 대한 인터페이스를 제공합니다. 이것은 한국어 문장입니다.'\n"
        "found = []\n"
        "threads = [threading.Thread(target=lambda: found.append(detect_language(text))) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(sorted(found))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == str(["ko"] * 8)
