"""Tests for benchmarks.hover: splits, program, retrieval metric and feedback."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import gzip  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import dspy  # noqa: E402
import pytest  # noqa: E402
from dspy.utils import DummyLM  # noqa: E402

pytest.importorskip("bm25s")

import benchmarks  # noqa: E402
from benchmarks import hover  # noqa: E402
from benchmarks.common import DataNotFoundError, resolve_data_dir  # noqa: E402
from benchmarks.multihop import normalize_title, split_sentences  # noqa: E402

CORPUS = [
    {"title": "Life Goes On (Fergie song)", "text": "\"Life Goes On\" is a song recorded by Fergie. "
                                                    "It was produced by Polow da Don. It followed M.I.L.F. $."},
    {"title": "M.I.L.F. $", "text": "M.I.L.F. $ is a song by Fergie. It was released in 2016."},
    {"title": "Polow da Don", "text": "Polow da Don is an American record producer. He was born in Atlanta."},
    {"title": "Atlanta", "text": "Atlanta is the capital of the U.S. state of Georgia."},
    {"title": "Thomas &amp; Mack Center", "text": "The Thomas &amp; Mack Center is an arena in Paradise, Nevada. "
                                                  "It is home to the UNLV Runnin' Rebels."},
    {"title": "UNLV Runnin' Rebels basketball", "text": "The UNLV Runnin' Rebels are a college basketball team."},
    {"title": "Paradise, Nevada", "text": "Paradise is an unincorporated town in Clark County, Nevada."},
    {"title": "Georgia (U.S. state)", "text": "Georgia is a state in the Southeastern United States."},
    {"title": "Fergie (singer)", "text": "Fergie is an American singer. She was a member of the Black Eyed Peas."},
    {"title": "Black Eyed Peas", "text": "The Black Eyed Peas are an American musical group from Los Angeles."},
]

FERGIE = {
    "uid": "c-fergie", "claim": "The song recorded by Fergie that was produced by Polow da Don, who was born in Atlanta, "
                                "was followed by M.I.L.F. $.",
    "label": "SUPPORTED", "num_hops": 3, "titles": ["Life Goes On (Fergie song)", "M.I.L.F. $", "Polow da Don"],
    "supporting_facts": [["Life Goes On (Fergie song)", 1], ["Life Goes On (Fergie song)", 2], ["M.I.L.F. $", 0],
                         ["Polow da Don", 1]],
    "hpqa_id": "h1",
}
ARENA = {
    "uid": "c-arena", "claim": "The arena home to the UNLV Runnin' Rebels is in Paradise, Nevada.",
    "label": "SUPPORTED", "num_hops": 3,
    "titles": ["Thomas &amp; Mack Center", "UNLV Runnin' Rebels basketball", "Paradise, Nevada"],
    "supporting_facts": [["Thomas &amp; Mack Center", 1], ["UNLV Runnin' Rebels basketball", 0],
                         ["Paradise, Nevada", 7]],  # sentence 7 does not exist: the fallback is exercised
    "hpqa_id": "h2",
}
TWO_TITLES = {
    "uid": "c-two", "claim": "Fergie was in the Black Eyed Peas.", "label": "SUPPORTED", "num_hops": 2,
    "titles": ["Fergie (singer)", "Black Eyed Peas"],
    "supporting_facts": [["Fergie (singer)", 1], ["Black Eyed Peas", 0]], "hpqa_id": "h3",
}


def filler(i: int) -> dict:
    return {"uid": f"c-{i:02d}", "claim": f"Filler claim {i} about Atlanta in Georgia.", "label": "NOT_SUPPORTED",
            "num_hops": 3, "titles": ["Atlanta", "Georgia (U.S. state)", "Black Eyed Peas"],
            "supporting_facts": [["Atlanta", 0], ["Georgia (U.S. state)", 0], ["Black Eyed Peas", 0]], "hpqa_id": ""}


def write_jsonl_gz(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    claims = [filler(i) for i in range(25)]
    claims[2], claims[17] = FERGIE, ARENA
    claims[5:5] = [TWO_TITLES] * 3  # dropped: not exactly 3 gold titles
    write_jsonl_gz(root / "hover" / "claims.jsonl.gz", claims)
    write_jsonl_gz(root / "hover" / "corpus.jsonl.gz", CORPUS)
    return root


def all_examples(data_dir: Path) -> dict[str, dspy.Example]:
    splits = hover.load_splits(data_dir=data_dir, sizes=(100, 100, 100))
    return {ex.uid: ex for part in (splits.train, splits.val, splits.test) for ex in part}


def scripted_run(program: dspy.Module, claim: str, query2: str, query3: str) -> tuple[dspy.Prediction, list, DummyLM]:
    lm = DummyLM([
        {"reasoning": "r1", "summary": "Life Goes On is a Fergie song produced by Polow da Don."},
        {"reasoning": "r2", "query": query2},
        {"reasoning": "r3", "summary": "More facts."},
        {"reasoning": "r4", "query": query3},
    ])
    with dspy.context(lm=lm, trace=[]):
        pred = program(claim=claim)
        trace = list(dspy.settings.trace)
    return pred, trace, lm


# -- data ----------------------------------------------------------------------------------------------
def test_registry_resolves_the_module() -> None:
    assert benchmarks.get("hover") is hover


def test_only_claims_with_three_gold_titles_are_kept(data_dir: Path) -> None:
    examples = all_examples(data_dir)
    assert len(examples) == 25 and "c-two" not in examples


def test_splits_are_deterministic_disjoint_and_sized(data_dir: Path) -> None:
    a = hover.load_splits(data_dir=data_dir, seed=0, sizes=(2, 4, 4))
    b = hover.load_splits(data_dir=data_dir, seed=0, sizes=(2, 4, 4))
    c = hover.load_splits(data_dir=data_dir, seed=5, sizes=(2, 4, 4))
    ids = lambda s: [[ex.uid for ex in part] for part in (s.train, s.val, s.test)]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)
    flat = [i for part in ids(a) for i in part]
    assert len(flat) == len(set(flat)) == 10


def test_examples_carry_inputs_labels_and_gold_documents(data_dir: Path) -> None:
    examples = all_examples(data_dir)
    fergie = examples["c-fergie"]
    assert set(fergie.inputs().keys()) == {"claim"}
    assert fergie.label == "SUPPORTED"
    assert fergie.gold_docs[0]["key_sentences"] == ["It was produced by Polow da Don.", "It followed M.I.L.F. $."]
    arena = examples["c-arena"]
    assert arena.gold_titles[0] == "Thomas & Mack Center"
    # sentence 7 is beyond the paragraph: its opening stands in (and the case is logged and counted)
    assert arena.gold_docs[2]["key_sentences"] == ["Paradise is an unincorporated town in Clark County, Nevada."]


def test_sentence_split_keeps_abbreviated_titles_together() -> None:
    assert split_sentences("It followed M.I.L.F. $. It was a hit.") == ["It followed M.I.L.F. $.", "It was a hit."]


def test_missing_data_files_raise_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "hover").mkdir()
    (tmp_path / "hover" / "claims.jsonl.gz").write_bytes(b"")
    with pytest.raises(DataNotFoundError, match=r"hover: missing data file\(s\): .*hover/corpus.jsonl.gz"):
        hover.load_splits(data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match="corpus.jsonl.gz"):
        hover.make_program(data_dir=tmp_path)


# -- metric ------------------------------------------------------------------------------------------------
GOLD = dspy.Example(claim="c", gold_titles=["Life Goes On (Fergie song)", "The Black Eyed Peas", "Ant & Dec"],
                    gold_docs=[{"title": "Life Goes On (Fergie song)", "text": "A song.", "key_sentences": []},
                               {"title": "The Black Eyed Peas", "text": "A group.", "key_sentences": []},
                               {"title": "Ant & Dec", "text": "A duo.", "key_sentences": []}]).with_inputs("claim")


@pytest.mark.parametrize(("retrieved", "score"), [
    (["Life Goes On (Fergie song)", "The Black Eyed Peas", "Ant & Dec"], 1.0),
    (["life goes on (fergie song)", "Black Eyed Peas", "Ant &amp; Dec", "Other"], 1.0),  # case, article, entity
    (["Life Goes On: Fergie song!", "black-eyed peas", "Ant & Dec"], 0.0),  # a hyphen removes a space
    (["Life Goes On", "The Black Eyed Peas", "Ant & Dec"], 0.0),  # the parenthesised part matters
    (["Life Goes On (Fergie song)", "The Black Eyed Peas"], 0.0),
    ([], 0.0),
])
def test_metric_needs_every_gold_title(retrieved: list[str], score: float) -> None:
    assert hover.metric(GOLD, dspy.Prediction(retrieved_titles=retrieved)).score == score


def test_title_normalisation() -> None:
    assert normalize_title("The Thomas &amp; Mack Center") == normalize_title("thomas & mack center") == \
        "thomas mack center"
    assert normalize_title("Life Goes On (Fergie song)") == "life goes on fergie song"


def test_metric_falls_back_to_hop_titles_and_reports_missing_fields() -> None:
    hops = [["Ant & Dec"], ["The Black Eyed Peas"], ["Life Goes On (Fergie song)"]]
    assert hover.metric(GOLD, dspy.Prediction(hop_titles=hops)).score == 1.0
    result = hover.metric(GOLD, dspy.Prediction(summary_1="x"))
    assert result.score == 0.0 and "returned no retrieved titles" in result.feedback


def test_program_feedback_lists_found_and_missed_documents() -> None:
    pred = dspy.Prediction(retrieved_titles=["Ant & Dec", "X"], hop_titles=[["X"], ["Ant & Dec"], []])
    fb = hover.metric(GOLD, pred).feedback
    assert fb.startswith("Incorrect: 1 of the 3 gold documents were retrieved; all 3 are needed.")
    assert 'Found: "Ant & Dec" (hop 2).' in fb
    assert '- "Life Goes On (Fergie song)": A song.' in fb and '- "The Black Eyed Peas": A group.' in fb
    full = dspy.Prediction(retrieved_titles=GOLD.gold_titles, hop_titles=[GOLD.gold_titles, [], []])
    assert hover.metric(GOLD, full).feedback.startswith("Correct: all 3 gold documents were retrieved.")


def test_unknown_predictor_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown predictor name"):
        hover.metric(GOLD, dspy.Prediction(retrieved_titles=[]), pred_name="final_answer.predict")


# -- program ------------------------------------------------------------------------------------------------
def test_program_structure(data_dir: Path, tmp_path: Path) -> None:
    program = hover.make_program(data_dir=data_dir, cache_dir=tmp_path / "cache")
    assert [n for n, _ in program.named_predictors()] == [f"{p}.predict" for p in hover.PREDICTORS]
    assert program.ks == (7, 7, 10)
    with pytest.raises(ValueError, match="three positive passage counts"):
        hover.make_program(data_dir=data_dir, cache_dir=tmp_path / "cache", ks=(7, 7))


def test_full_program_run_and_predictor_feedback(data_dir: Path, tmp_path: Path) -> None:
    ex = all_examples(data_dir)["c-fergie"]
    program = hover.make_program(data_dir=data_dir, cache_dir=tmp_path / "cache", ks=(1, 1, 2))
    pred, trace, lm = scripted_run(program, ex.claim, query2="Black Eyed Peas group", query3="M.I.L.F. $ released in 2016")
    assert len(lm.history) == 4 and len(trace) == 4
    assert pred.hop_titles[0] == ["Life Goes On (Fergie song)"]
    assert pred.hop_titles[1] == ["Black Eyed Peas"]
    assert pred.hop_titles[2][0] == "M.I.L.F. $"
    assert pred.hop2_query == "Black Eyed Peas group" and pred.hop3_query == "M.I.L.F. $ released in 2016"
    result = hover.metric(ex, pred)
    assert result.score == 0.0  # Polow da Don was never retrieved
    assert '- "Polow da Don": Polow da Don is an American record producer.' in result.feedback

    by_name = {name: [t for t in trace if t[0] is p] for name, p in program.named_predictors()}

    def fb(name: str) -> str:
        return hover.metric(ex, pred, pred_name=name, pred_trace=by_name[name]).feedback

    s1 = fb("summarize1.predict")
    assert s1.startswith(f'Claim: {ex.claim}\nIn the end the program never retrieved gold document(s) "Polow da Don".')
    assert 'contain gold document(s) "Life Goes On (Fergie song)"' in s1
    assert "key facts: It was produced by Polow da Don. It followed M.I.L.F. $." in s1
    assert 'Gold document(s) "M.I.L.F. $", "Polow da Don" have not been retrieved so far' in s1

    q2 = fb("create_query_hop2.predict")
    assert 'Your hop-2 query was: "Black Eyed Peas group".' in q2
    assert 'failed to retrieve gold document(s) "M.I.L.F. $", "Polow da Don"' in q2

    s2 = fb("summarize2.predict")
    assert 'Gold document(s) "Life Goes On (Fergie song)" were found by an earlier search' in s2

    q3 = fb("create_query_hop3.predict")
    assert 'Your query retrieved the still-missing gold document(s) "M.I.L.F. $". Good.' in q3
    assert 'failed to retrieve gold document(s) "Polow da Don"' in q3
    assert hover.metric(ex, pred, pred_name="create_query_hop3").feedback == q3  # no trace: same fields


# -- public loading path (argument handling only) -----------------------------------------------------------------
def hub_row(rec: dict, i: int) -> dict:
    return {"id": i, "uid": rec["uid"], "claim": rec["claim"], "label": 1, "num_hops": rec["num_hops"],
            "hpqa_id": rec["hpqa_id"], "supporting_facts": [{"key": t, "value": s} for t, s in rec["supporting_facts"]]}


def test_public_path_calls_load_dataset_and_reads_gold_texts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    rows = [hub_row(r, i) for i, r in enumerate([FERGIE, TWO_TITLES, ARENA] * 4)]
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda *a, **k: calls.append((a, k)) or rows
    monkeypatch.setitem(sys.modules, "datasets", fake)
    wiki = tmp_path / "wiki.abstracts.2017.jsonl"
    wiki.write_text("".join(json.dumps({"title": c["title"], "text": [c["text"]]}) + "\n" for c in CORPUS))
    splits = hover.load_public_splits(sizes=(1, 2, 2), corpus_path=wiki)
    assert calls == [(("hover",), {"split": "train"})]
    examples = splits.train + splits.val + splits.test
    assert len(examples) == 5 and all(len(ex.gold_titles) == 3 for ex in examples)
    fergie = next(ex for ex in examples if ex.uid == "c-fergie")
    assert fergie.gold_docs[2]["text"].startswith("Polow da Don is an American record producer.")
    # without a corpus the gold texts are unknown and the feedback says so
    bare = hover.load_public_splits(sizes=(1, 2, 2), split="validation")
    assert calls[-1] == (("hover",), {"split": "validation"})
    doc = bare.val[0].gold_docs[0]
    assert doc["text"] == "" and "(text unavailable)" in hover.metric(bare.val[0], dspy.Prediction(
        retrieved_titles=[])).feedback


def test_public_path_without_datasets_explains_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="pip install datasets"):
        hover.load_public_splits()


# -- the real data (skipped without the shared data folder) ---------------------------------------------------------
REAL = resolve_data_dir() / "hover"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "claims.jsonl.gz").exists(), reason="shared benchmark data not available")
def test_real_data_small_splits_and_gold_retrieval() -> None:
    splits = hover.load_splits(scale="small")
    assert [len(splits.train), len(splits.val), len(splits.test)] == [20, 20, 40]
    uids = [ex.uid for part in (splits.train, splits.val, splits.test) for ex in part]
    assert len(set(uids)) == 80
    assert all(len(ex.gold_titles) == 3 and all(d["text"] for d in ex.gold_docs) for ex in splits.val)
    program = hover.make_program()  # default user cache, shared with the retrieval test
    ex = splits.val[0]
    hits = program.retriever.search(ex.claim, 7)
    assert len(hits) == 7
    # retrieving with a gold article's own title finds that article
    title = ex.gold_titles[0]
    assert title in [h.title for h in program.retriever.search(title, 5)]
