"""Tests for benchmarks.hotpotqa (and benchmarks.run_baseline on it): splits, program, metric, feedback."""

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
from benchmarks import hotpotqa  # noqa: E402
from benchmarks.common import DataNotFoundError, resolve_data_dir  # noqa: E402

CORPUS = [
    {"title": "Eiffel Tower", "sentences": ["The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
                                            " It was designed by the company of the engineer Gustave Eiffel."]},
    {"title": "Gustave Eiffel", "sentences": ["Gustave Eiffel was a French civil engineer.",
                                              " He was born in Dijon in 1832."]},
    {"title": "Dijon", "sentences": ["Dijon is a city in eastern France.", " It is famous for its mustard."]},
    {"title": "Statue of Liberty", "sentences": ["The Statue of Liberty stands in New York Harbor.",
                                                 " Its iron framework was built by Gustave Eiffel."]},
    {"title": "Ant &amp; Dec", "sentences": ["Ant &amp; Dec are a British presenting duo.",
                                             " They grew up in Newcastle upon Tyne."]},
    {"title": "Newcastle upon Tyne", "sentences": ["Newcastle upon Tyne is a city in North East England."]},
    {"title": "London", "sentences": ["London is the capital of England.", " It lies on the River Thames."]},
]

EIFFEL = {
    "id": "q-eiffel", "question": "In which city was the engineer whose company designed the Eiffel Tower born?",
    "answer": "Dijon", "type": "bridge", "level": "hard",
    "supporting_facts": [["Eiffel Tower", 1], ["Gustave Eiffel", 1]], "gold_titles": ["Eiffel Tower", "Gustave Eiffel"],
}
ANT_DEC = {
    "id": "q-antdec", "question": "Where did the presenting duo Ant & Dec grow up?", "answer": "Newcastle upon Tyne",
    "type": "bridge", "level": "easy", "supporting_facts": [["Ant &amp; Dec", 1], ["Newcastle upon Tyne", 0]],
    "gold_titles": ["Ant &amp; Dec", "Newcastle upon Tyne"],
}


def filler(i: int) -> dict:
    return {"id": f"q-{i:02d}", "question": f"Filler question {i} about the capital of England?", "answer": "London",
            "type": "comparison", "level": "medium", "supporting_facts": [["London", 0], ["Dijon", 0]],
            "gold_titles": ["London", "Dijon"]}


def write_jsonl_gz(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    questions = [filler(i) for i in range(28)]
    questions[3], questions[20] = EIFFEL, ANT_DEC
    write_jsonl_gz(root / "hotpotqa" / "questions.jsonl.gz", questions)
    write_jsonl_gz(root / "hotpotqa" / "corpus.jsonl.gz", CORPUS)
    return root


def all_examples(data_dir: Path) -> dict[str, dspy.Example]:
    splits = hotpotqa.load_splits(data_dir=data_dir, sizes=(100, 100, 100))  # every question of the pool
    return {ex.id: ex for part in (splits.train, splits.val, splits.test) for ex in part}


@pytest.fixture
def program(data_dir: Path, tmp_path: Path) -> hotpotqa.HotpotQAProgram:
    return hotpotqa.make_program(data_dir=data_dir, cache_dir=tmp_path / "cache", k=2)


def scripted_run(program: dspy.Module, question: str, query: str, answer: str,
                 summary_2: str = "He was born in Dijon.") -> tuple[dspy.Prediction, list, DummyLM]:
    lm = DummyLM([
        {"reasoning": "The tower was designed by Eiffel's company.", "summary": "Gustave Eiffel's company designed it."},
        {"reasoning": "We need his birthplace.", "query": query},
        {"reasoning": "Combine.", "summary": summary_2},
        {"reasoning": "From summary 2.", "answer": answer},
    ])
    with dspy.context(lm=lm, trace=[]):
        pred = program(question=question)
        trace = list(dspy.settings.trace)
    return pred, trace, lm


# -- data ---------------------------------------------------------------------------------------------
def test_registry_resolves_the_module() -> None:
    assert benchmarks.get("hotpotqa") is hotpotqa


def test_splits_are_deterministic_disjoint_and_sized(data_dir: Path) -> None:
    a = hotpotqa.load_splits(data_dir=data_dir, seed=1, sizes=(2, 3, 3))
    b = hotpotqa.load_splits(data_dir=data_dir, seed=1, sizes=(2, 3, 3))
    c = hotpotqa.load_splits(data_dir=data_dir, seed=2, sizes=(2, 3, 3))
    ids = lambda s: [[ex.id for ex in part] for part in (s.train, s.val, s.test)]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert [len(p) for p in ids(a)] == [2, 3, 3]
    flat = [i for part in ids(a) for i in part]
    assert len(set(flat)) == len(flat)
    small = hotpotqa.load_splits(data_dir=data_dir)  # small scale asks 20/20/40 of blocks of 5/11/12
    assert [len(small.train), len(small.val), len(small.test)] == [5, 11, 12]


def test_examples_carry_inputs_labels_and_gold_documents(data_dir: Path) -> None:
    ex = all_examples(data_dir)["q-antdec"]
    assert set(ex.inputs().keys()) == {"question"}
    assert ex.answer == "Newcastle upon Tyne"
    assert ex.gold_titles == ["Ant & Dec", "Newcastle upon Tyne"]  # HTML entities decoded
    ant = ex.gold_docs[0]
    assert ant["title"] == "Ant & Dec" and ant["text"].startswith("Ant & Dec are a British presenting duo.")
    assert ant["key_sentences"] == ["They grew up in Newcastle upon Tyne."]


def test_missing_data_files_raise_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataNotFoundError, match=r"hotpotqa: missing data file\(s\).*questions.jsonl.gz"):
        hotpotqa.load_splits(data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match="corpus.jsonl.gz"):
        hotpotqa.make_program(data_dir=tmp_path)
    monkeypatch.setenv("GEPA_DSPY_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DataNotFoundError, match="elsewhere"):
        hotpotqa.load_splits()


def test_bad_scale_is_rejected(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="scale must be one of"):
        hotpotqa.load_splits(scale="huge", data_dir=data_dir)


# -- metric ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("predicted", "gold", "score"), [
    ("Dijon", "Dijon", 1.0),
    ("dijon.", "Dijon", 1.0),
    ("The Eiffel Tower!", "Eiffel tower", 1.0),
    ("an apple", "Apple", 1.0),
    ("anabolic–androgenic steroid (AAS)", "anabolic–androgenic steroid AAS", 1.0),
    ("Paris, France", "Paris", 0.0),
    ("Dijon", ["Paris", "dijon"], 1.0),
    ("", "Dijon", 0.0),
])
def test_exact_match_normalisation(predicted: str, gold: str | list[str], score: float) -> None:
    ex = dspy.Example(question="q", answer=gold, gold_titles=[], gold_docs=[]).with_inputs("question")
    result = hotpotqa.metric(ex, dspy.Prediction(answer=predicted))
    assert result.score == score
    assert float(result) == score  # usable where a float is expected (MIPROv2, Evaluate)


def test_missing_answer_scores_zero_with_feedback(data_dir: Path) -> None:
    ex = all_examples(data_dir)["q-eiffel"]
    result = hotpotqa.metric(ex, dspy.Prediction(summary_1="x"))
    assert result.score == 0.0
    assert "no answer" in result.feedback and '"Dijon"' in result.feedback


def test_program_feedback_names_gold_answer_and_retrieval(data_dir: Path) -> None:
    ex = all_examples(data_dir)["q-eiffel"]
    pred = dspy.Prediction(answer="Paris", hop_titles=[["Eiffel Tower", "Dijon"], ["London"]])
    result = hotpotqa.metric(ex, pred)
    assert result.score == 0.0
    fb = result.feedback
    assert fb.startswith('Incorrect: the program answered "Paris" but the gold answer is "Dijon"')
    assert '"Eiffel Tower": key facts: It was designed by the company of the engineer Gustave Eiffel. ' \
           "(retrieved by hop 1)" in fb
    assert '"Gustave Eiffel": key facts: He was born in Dijon in 1832. (NOT retrieved)' in fb
    ok = hotpotqa.metric(ex, dspy.Prediction(answer="dijon", hop_titles=[["Eiffel Tower"], ["Gustave Eiffel"]]))
    assert ok.score == 1.0 and ok.feedback.startswith("Correct") and "(retrieved by hop 2)" in ok.feedback


def test_unknown_predictor_name_is_rejected(data_dir: Path) -> None:
    ex = all_examples(data_dir)["q-eiffel"]
    with pytest.raises(ValueError, match="unknown predictor name 'generate_answer'"):
        hotpotqa.metric(ex, dspy.Prediction(answer="x"), pred_name="generate_answer")


# -- program --------------------------------------------------------------------------------------------------
def test_program_has_four_chain_of_thought_predictors(program: hotpotqa.HotpotQAProgram) -> None:
    names = [name for name, _ in program.named_predictors()]
    assert names == [f"{p}.predict" for p in hotpotqa.PREDICTORS]
    assert all(isinstance(getattr(program, p), dspy.ChainOfThought) for p in hotpotqa.PREDICTORS)
    copy = program.deepcopy()
    assert copy.retriever is program.retriever and copy.summarize1 is not program.summarize1


def test_full_program_run_with_scripted_lm(data_dir: Path, program: hotpotqa.HotpotQAProgram) -> None:
    ex = all_examples(data_dir)["q-eiffel"]
    pred, trace, lm = scripted_run(program, ex.question, query="Gustave Eiffel born", answer="Dijon")
    assert len(lm.history) == 4
    assert pred.answer == "Dijon" and pred.hop2_query == "Gustave Eiffel born"
    assert pred.hop_titles[0][0] == "Eiffel Tower" and "Gustave Eiffel" in pred.hop_titles[1]
    assert all(len(hop) <= 2 for hop in pred.hop_titles)
    assert len(trace) == 4
    # the first summarizer saw the hop-1 passages formatted "title | text"
    assert trace[0][1]["passages"][0].startswith("Eiffel Tower | The Eiffel Tower is")
    assert hotpotqa.metric(ex, pred).score == 1.0


def test_predictor_feedback(data_dir: Path, tmp_path: Path) -> None:
    ex = all_examples(data_dir)["q-eiffel"]
    program = hotpotqa.make_program(data_dir=data_dir, cache_dir=tmp_path / "cache", k=1)
    pred, trace, _ = scripted_run(program, ex.question, query="New York Harbor statue", answer="Paris",
                                  summary_2="Nothing about a birthplace.")
    by_name = {name: [t for t in trace if t[0] is p] for name, p in program.named_predictors()}

    def fb(name: str, with_trace: bool = True) -> str:
        return hotpotqa.metric(ex, pred, pred_name=name, pred_trace=by_name[name] if with_trace else None).feedback

    summarize1 = fb("summarize1.predict")
    assert "Gold answer: \"Dijon\". The program's final answer was wrong." in summarize1
    assert "The passages you were given contain gold document(s) \"Eiffel Tower\"" in summarize1
    assert "Your summary does not mention the gold answer." in summarize1

    query = fb("create_query_hop2.predict")
    assert pred.hop_titles == [["Eiffel Tower"], ["Statue of Liberty"]]
    assert 'Your hop-2 query was: "New York Harbor statue".' in query
    assert 'Earlier hops already found gold document(s) "Eiffel Tower".' in query
    assert 'failed to retrieve gold document(s) "Gustave Eiffel"' in query
    assert "Gustave Eiffel was a French civil engineer." in query  # an excerpt of the missed document

    summarize2 = fb("summarize2.predict")
    assert 'Gold document(s) "Eiffel Tower" were found by an earlier search' in summarize2
    assert 'Gold document(s) "Gustave Eiffel" have not been retrieved so far' in summarize2
    assert "He was born in Dijon in 1832." in summarize2

    answer = fb("final_answer.predict")
    assert 'Incorrect: you answered "Paris" but the gold answer is "Dijon".' in answer
    assert "do not contain the gold answer" in answer

    # without a trace the program's own fields are used, with the same result
    assert fb("create_query_hop2.predict", with_trace=False) == query
    assert fb("final_answer", with_trace=False) == answer


# -- public loading path (argument handling only) ----------------------------------------------------------------
def hub_row(rec: dict) -> dict:
    titles = [t for t, _ in rec["supporting_facts"]]
    return {
        "id": rec["id"], "question": rec["question"], "answer": rec["answer"], "type": rec["type"],
        "level": rec["level"],
        "supporting_facts": {"title": titles, "sent_id": [i for _, i in rec["supporting_facts"]]},
        "context": {"title": [c["title"] for c in CORPUS if c["title"] in titles],
                    "sentences": [c["sentences"] for c in CORPUS if c["title"] in titles]},
    }


def test_public_path_calls_load_dataset_and_converts_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda *a, **k: calls.append((a, k)) or [hub_row(EIFFEL), hub_row(ANT_DEC)] * 5
    monkeypatch.setitem(sys.modules, "datasets", fake)
    splits = hotpotqa.load_public_splits(sizes=(1, 2, 2), split="validation", trust_remote_code=True)
    assert calls == [(("hotpot_qa", "fullwiki"), {"split": "validation", "trust_remote_code": True})]
    assert [len(splits.train), len(splits.val), len(splits.test)] == [1, 2, 2]
    ex = next(e for e in splits.val + splits.test + splits.train if e.id == "q-eiffel")
    assert ex.gold_docs[1]["key_sentences"] == ["He was born in Dijon in 1832."]


def test_public_path_without_datasets_explains_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install datasets.*load_splits\(data_dir=...\)"):
        hotpotqa.load_public_splits()


# -- run_baseline -------------------------------------------------------------------------------------------------
def test_run_baseline_reports_score_time_and_calls(data_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import run_baseline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    answers = [{"reasoning": "r", "summary": "s"}, {"reasoning": "r", "query": "Gustave Eiffel"},
               {"reasoning": "r", "summary": "s"}, {"reasoning": "r", "answer": "London"}]
    report = run_baseline.run("hotpotqa", split="train", limit=2, data_dir=str(data_dir), lm=DummyLM(answers * 2))
    assert report.examples == 2 and report.errors == 0
    assert report.mean_program_lm_calls_per_example == 4.0
    assert report.mean_score == 1.0  # both train examples are filler questions answered "London"
    text = run_baseline.format_report(report)
    assert "score: 1.000 (2/2)" in text and "LM calls per example: 4.00 program" in text


def test_run_baseline_counts_errors_instead_of_crashing(data_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import run_baseline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    report = run_baseline.run("hotpotqa", split="train", limit=1, data_dir=str(data_dir), lm=DummyLM([]))
    assert report.errors == 1 and report.mean_score == 0.0 and report.results[0].error


def test_run_baseline_cli_arguments() -> None:
    from benchmarks import run_baseline

    args = run_baseline.parse_args(["--benchmark", "hover", "--limit", "5", "--num-threads", "2"])
    assert (args.benchmark, args.scale, args.split, args.limit, args.num_threads) == ("hover", "small", "val", 5, 2)
    assert args.lm == "openai/local" and args.api_base == "http://127.0.0.1:8089/v1"
    with pytest.raises(SystemExit):
        run_baseline.parse_args(["--benchmark", "nope"])


# -- the real data (skipped without the shared data folder) --------------------------------------------------------
REAL = resolve_data_dir() / "hotpotqa"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "questions.jsonl.gz").exists(), reason="shared benchmark data not available")
def test_real_data_small_splits() -> None:
    splits = hotpotqa.load_splits(scale="small")
    assert [len(splits.train), len(splits.val), len(splits.test)] == [20, 20, 40]
    ids = [ex.id for part in (splits.train, splits.val, splits.test) for ex in part]
    assert len(set(ids)) == 80
    again = hotpotqa.load_splits(scale="small")
    assert ids == [ex.id for part in (again.train, again.val, again.test) for ex in part]
    for ex in splits.val:
        assert len(ex.gold_docs) == 2 and all(d["text"] and d["key_sentences"] for d in ex.gold_docs)
