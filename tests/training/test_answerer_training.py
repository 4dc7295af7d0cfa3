"""training/answerer.py: the rows it measures are what the answerer sees, the fit chooses its thresholds
from the left-out sources, and kept rows refit to the same model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answer.answerability import FEATURES, AnswerModel
from training import answerer
from training.sources import Example

DICTIONARY = "Online Orthogonal Dictionary Learning Based on Frank-Wolfe Method"
QUESTION = "What convergence rate does the online orthogonal dictionary learning method based on Frank-Wolfe achieve?"


def test_rows_label_the_answering_paper_and_none_once_it_is_taken_out(seed_assistant):
    rows, labels = answerer.rows_for(seed_assistant, Example("bundled", QUESTION, {DICTIONARY}, True, by_title=True))
    assert rows.shape == (len(labels), len(FEATURES)) and labels.sum() == 1
    question = seed_assistant.question(QUESTION, k=10)
    dictionary_id = next(h.paper_id for h in question.hits if h.title == DICTIONARY)
    assert question.hits[int(np.argmax(labels))].paper_id == dictionary_id

    rows, labels = answerer.rows_for(
        seed_assistant, Example("bundled", QUESTION, {dictionary_id}, False, exclude={dictionary_id})
    )
    assert len(labels) and labels.sum() == 0


def test_a_question_asked_by_title_without_its_paper_has_no_answering_row(seed_assistant):
    # The reader's-voice sets name papers by title; asked with that title's paper taken out, nothing answers.
    rows, labels = answerer.rows_for(
        seed_assistant, Example("voice", QUESTION, {DICTIONARY}, False, exclude={DICTIONARY}, by_title=True)
    )
    assert len(labels) and labels.sum() == 0
    assert DICTIONARY in {h.title for h in seed_assistant.question(QUESTION, k=10).hits}  # it was found, then taken out


def test_a_wrong_answer_can_be_made_to_score_below_a_refusal():
    answering, wrong = np.array([0.9, 0.2]), np.array([0.2, 0.9])
    labels = np.array([1.0, 0.0])
    asked = lambda p, ok: [(p, labels if ok else np.zeros(2), ok, False, 1)]  # noqa: E731
    assert answerer.utility(asked(answering, True), 0.5, 0.0) == 1.0
    assert answerer.utility(asked(np.array([0.1, 0.1]), True), 0.5, 0.0) == 0.0  # refused
    assert answerer.utility(asked(wrong, True), 0.5, 0.0) == -answerer.WRONG_COST == 0.0  # as bad as refusing
    assert answerer.utility(asked(wrong, True), 0.5, 0.0, wrong_cost=0.5) == -0.5
    assert answerer.utility(asked(wrong, False), 0.5, 0.0, wrong_cost=1.0) == -1.0  # answered the unanswerable
    assert answerer.utility(asked(np.array([0.1, 0.1]), False), 0.5, 0.0) == 1.0


def test_a_balanced_utility_counts_the_unanswerable_as_much_as_the_answerable_however_few():
    # Nine answerable askings answered right, one unanswerable answered: 0.9 plain, (1 + 0) / 2 balanced.
    right = (np.array([0.9, 0.1]), np.array([1.0, 0.0]), True, False, 1)
    answered_unanswerable = (np.array([0.9, 0.1]), np.zeros(2), False, False, 0)
    items = [right] * 9 + [answered_unanswerable]
    assert answerer.utility(items, 0.5, 0.0) == pytest.approx(0.9)
    assert answerer.utility(items, 0.5, 0.0, balanced=True) == pytest.approx(0.5)
    assert answerer.utility([right] * 3, 0.5, 0.0, balanced=True) == 1.0  # a source with one kind: that kind's mean
    # Where the unanswerable's best paper looks as sure as a weak right one, only the balanced choice refuses it.
    weak = (np.array([0.45, 0.1]), np.array([1.0, 0.0]), True, False, 1)
    near_miss = (np.array([0.5, 0.1]), np.zeros(2), False, False, 0)
    left_out = {"bundled": [right] * 6 + [weak] * 3 + [near_miss]}
    assert answerer.choose_thresholds(left_out)[0] <= 0.45
    assert answerer.choose_thresholds(left_out, balanced=True)[0] > 0.5


def _synthetic(seed: int = 0) -> dict:
    """Askings whose first feature says which paper answers (noisily), for three human sources and one more."""
    rng = np.random.default_rng(seed)
    data = {}
    for source in ("bundled", "scifact", "pubmedqa", "hf-summary"):
        items = []
        for i in range(60):
            answerable = i % 3 != 0
            rows = rng.normal(size=(6, len(FEATURES)))
            labels = np.zeros(6)
            if answerable:
                labels[0] = 1.0
                rows[0, 0] += 2.5
            items.append((rows, labels, answerable, False, 1))
        data[source] = items
    return data


def test_the_fit_chooses_its_threshold_on_left_out_sources_and_reports_them():
    model, card = answerer.fit(_synthetic(), seed=0, iterations=30)
    assert 0.1 <= model["threshold"] <= 0.7 and model["second_within"] in (0.0, 0.05, 0.1, 0.2)
    assert set(card["figures"]["left_out"]) == {"bundled", "scifact", "pubmedqa"}  # only the human-written
    left_out = card["figures"]["left_out"]["scifact"]
    assert left_out["false_refusals"] < 0.5 and left_out["unanswerable_refused"] > 0.5  # it learnt the signal
    assert card["data"] == {"bundled": 60, "scifact": 60, "pubmedqa": 60, "hf-summary": 60}


def test_a_list_threshold_below_the_answer_threshold_is_chosen_when_lists_further_papers_are_less_sure():
    # Single questions: answering papers at 0.8, unanswerable ones' best at 0.4 (the answer bar goes above
    # 0.4). Lists: a sure first paper and a second right one at 0.3 among wrong ones at 0.05.
    single = [(np.array([0.8, 0.1]), np.array([1.0, 0.0]), True, False, 1)] * 10 + [(np.array([0.4, 0.1]), np.zeros(2), False, False, 0)] * 10
    lists = [(np.array([0.9, 0.3, 0.05]), np.array([1.0, 1.0, 0.0]), True, True, 2)] * 5
    threshold, _, list_threshold = answerer.choose_thresholds({"bundled": single + lists})
    assert threshold > 0.4 and list_threshold <= 0.3 and list_threshold > 0.05
    assert answerer.utility(single + lists, threshold, 0.0, list_threshold=list_threshold) == 1.0


def test_kept_rows_refit_to_the_same_model(tmp_path):
    data = _synthetic(1)
    measured = {"command": "python -m training.answerer --seed 1", "commit": "abc1234", "date": "2026-12-06", "seconds": 9}
    answerer.save_rows(data, tmp_path / "rows.npz", measured)
    again = answerer.load_rows(tmp_path / "rows.npz")
    assert {s: len(v) for s, v in again.items()} == {s: len(v) for s, v in data.items()}
    for (r1, y1, *m1), (r2, y2, *m2) in zip(data["scifact"], again["scifact"]):
        assert np.array_equal(r1, r2) and np.array_equal(y1, y2) and m1 == m2
    # Every asking's rows are a view of one array read once (a fresh copy each filled 24 GB on the real rows).
    assert len({id(rows.base) for items in again.values() for rows, *_ in items}) == 1

    out = tmp_path / "model.json"
    assert answerer.main(["--rows", str(tmp_path / "rows.npz"), "--refit", "--iterations", "20", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["made_by"]["command"].startswith("python -m training.answerer --rows")
    assert written["made_by"]["rows_made_by"] == measured  # the card says which asking run measured the rows
    direct, _ = answerer.fit(data, seed=0, iterations=20)  # the same data fitted in memory, never saved
    (tmp_path / "direct.json").write_text(json.dumps(direct))
    probe = np.vstack([r for r, *_ in data["bundled"]])
    refit, fitted = AnswerModel.load(out), AnswerModel.load(tmp_path / "direct.json")
    assert np.allclose(refit.probabilities(probe), fitted.probabilities(probe))
    assert refit.threshold == fitted.threshold and refit.list_threshold == fitted.list_threshold is not None


def test_a_sweep_shows_each_left_out_sources_trade_off_at_every_threshold(tmp_path):
    answerer.save_rows(_synthetic(2), tmp_path / "rows.npz")
    out = tmp_path / "sweep.json"
    assert answerer.main(["--rows", str(tmp_path / "rows.npz"), "--refit", "--iterations", "20", "--out", str(tmp_path / "none.json"),
                          "--sweep", str(out)]) == 0
    sweep = json.loads(out.read_text())["by_threshold"]
    assert list(sweep) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"] and set(sweep["0.1"]) == {"bundled", "scifact", "pubmedqa"}
    refused = [sweep[t]["scifact"]["unanswerable_refused"] for t in sweep]
    assert refused == sorted(refused)  # a higher threshold refuses more, never less
    assert not (tmp_path / "none.json").exists()  # no model written


def test_refit_without_kept_rows_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="run without --refit first"):
        answerer.main(["--rows", str(tmp_path / "none.npz"), "--refit", "--out", str(tmp_path / "m.json")])


def test_no_held_out_question_or_scale_paper_reaches_the_training(monkeypatch):
    """The held-out sets stay held out: the reader's-voice sources the training reads are tuning sets, and
    no paper a held-out scale set asks about is in one of them (a question about it would leak its voice)."""
    from rag.text.clean import normalise_title
    from training import sources

    read = []
    real = sources.load_questions
    monkeypatch.setattr(sources, "load_questions", lambda path: (read.append(path.name), real(path))[1])
    voice_sets = sources.VOICE_SETS + sources.EXTRA_VOICE_SETS  # the off-by-default ones too
    examples = [e for name, source, _ in voice_sets for e in sources.voice(name, source)] + list(sources.bundled())
    assert len(read) == len(voice_sets) + 2 and not set(read) & set(sources.HELD_OUT)

    scale_papers = set()
    for name in (n for n in sources.HELD_OUT if n.startswith("scale")):
        for line in filter(str.strip, (sources.REPO / "eval" / name).read_text(encoding="utf-8").splitlines()):
            scale_papers |= {normalise_title(t) for t in json.loads(line)["relevant_titles"]}
    assert scale_papers and scale_papers <= sources.scale_titles()  # kept out of the synthetic questions
    tuning_papers = {normalise_title(t) for e in examples for t in e.relevant}
    assert not scale_papers & tuning_papers


def _seed_papers() -> list[tuple]:
    from rag.corpus.readers import read_corpus
    from rag.types import Paper

    papers = [p for p in read_corpus(answerer.REPO / "rag" / "data" / "trending_papers.txt") if isinstance(p, Paper)]
    return [(p, {"ai_summary": p.abstract.split(". ")[0]}) for p in papers]


def test_synthetic_followups_carry_the_conversation_and_label_what_was_left_indexed():
    from training import sources

    papers = _seed_papers()[:6]
    examples = list(sources.followups(papers, seed=0, refusal="The indexed abstracts don't answer this."))
    assert {e.source for e in examples} == {"hf-followup"} and all(len(e.history) == 2 for e in examples)
    assert any(e.answerable for e in examples) and any(not e.answerable for e in examples)
    for e in examples:
        answer = e.history[1]
        if answer["content"].startswith("The indexed abstracts"):  # after a refusal: the paper is not indexed
            assert not e.answerable and e.exclude and answer.get("paper_ids", []) == []
        elif "paper_ids" in answer:  # a chat/API history names the paper it answered from
            assert answer["paper_ids"][0] in {p.paper_id for p, _ in papers}
        assert e.answerable != bool(e.exclude or e.removed_sentence)  # unanswerable exactly when something was taken out


def test_a_followup_whose_detail_was_taken_out_has_no_answering_row(seed_assistant):
    from training import sources

    papers = _seed_papers()[:8]
    examples = [e for e in sources.followups(papers, seed=0, refusal="x") if e.removed_sentence][:1]
    assert examples
    asked = examples[0]
    rows, labels = answerer.rows_for(seed_assistant, Example("hf-followup", asked.question, asked.relevant, True, asked.history))
    assert labels.sum() == 1  # with its sentence the discussed paper answers
    rows, labels = answerer.rows_for(seed_assistant, asked)
    assert len(labels) and labels.sum() == 0
    assert rows[:, FEATURES.index("followup")].any()  # it was read as a follow-up


def test_a_sources_worth_is_measured_by_fitting_with_and_without_it(tmp_path):
    from benchmarks.quality import answerer_sources

    data = _synthetic(3)
    for source in data.values():
        for rows, *_ in source:
            rows[:, FEATURES.index("followup")] = 0.0
    for rows, *_ in data["bundled"][:20]:
        rows[:, FEATURES.index("followup")] = 1.0  # twenty of its askings are follow-ups
    answerer.save_rows(data, tmp_path / "rows.npz")
    assert answerer_sources.main(["--rows", str(tmp_path / "rows.npz"), "--source", "hf-summary", "--iterations", "20", "--no-results"]) == 0
    judged = answerer_sources.judged(data, seed=0, iterations=20)
    assert judged["sources"]["bundled"]["followups"] == 20 and judged["followups"]["askings"] == 20
    assert set(judged["sources"]) == {"bundled", "scifact", "pubmedqa"} and 0 <= judged["mean_utility"] <= 1
    with pytest.raises(SystemExit, match="no source 'nothing'"):
        answerer_sources.main(["--rows", str(tmp_path / "rows.npz"), "--source", "nothing", "--no-results"])


def test_a_model_fitted_without_some_features_lists_only_the_others(tmp_path):
    answerer.save_rows(_synthetic(3), tmp_path / "rows.npz")
    out = tmp_path / "model.json"
    assert answerer.main(["--rows", str(tmp_path / "rows.npz"), "--refit", "--iterations", "20", "--out", str(out), "--without", "tok_low,tok_mean"]) == 0
    model = AnswerModel.load(out)
    assert model.features == tuple(f for f in FEATURES if f not in ("tok_low", "tok_mean"))  # so they are never measured
    rows = np.vstack([r for r, *_ in _synthetic(3)["bundled"]])
    assert model.probabilities(rows).shape == (len(rows),)  # it reads its own columns from full rows
    with pytest.raises(SystemExit, match="no such feature: tok_nothing"):
        answerer.main(["--rows", str(tmp_path / "rows.npz"), "--refit", "--out", str(out), "--without", "tok_nothing"])


def test_two_fits_of_the_same_rows_compare_by_their_cards(tmp_path, capsys):
    from benchmarks.quality import answerer_cards

    answerer.save_rows(_synthetic(4), tmp_path / "rows.npz")
    for name, extra in (("plain", []), ("balanced", ["--balanced"])):
        assert answerer.main(["--rows", str(tmp_path / "rows.npz"), "--refit", "--iterations", "20", "--out", str(tmp_path / f"{name}.json"), *extra]) == 0
    balanced = json.loads((tmp_path / "balanced.json").read_text())
    assert balanced["made_by"]["chosen_on"].endswith("answerable and unanswerable askings weighed equally")
    capsys.readouterr()
    assert answerer_cards.main([f"plain={tmp_path / 'plain.json'}", f"balanced={tmp_path / 'balanced.json'}", "--no-results"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split(" |")[0] for line in table[2:5]] == ["| bundled", "| scifact", "| pubmedqa"]  # the left-out sources
    plain = json.loads((tmp_path / "plain.json").read_text())["made_by"]["figures"]["left_out"]
    mean = sum(answerer_cards.decision(f) for f in plain.values()) / 3
    assert table[5].startswith(f"| mean decision figure / utility | {mean:.4f} / ")


def test_a_feature_groups_worth_is_measured_on_rows_without_its_columns(tmp_path, capsys):
    from benchmarks.quality import answerer_sources

    answerer.save_rows(_synthetic(5), tmp_path / "rows.npz")
    assert answerer_sources.main(["--rows", str(tmp_path / "rows.npz"), "--features", "tok_low,tok_mean", "--iterations", "20", "--no-results"]) == 0
    assert "without tok_low,tok_mean: threshold" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="name the features to fit without"):
        answerer_sources.main(["--rows", str(tmp_path / "rows.npz"), "--features", ",", "--no-results"])
