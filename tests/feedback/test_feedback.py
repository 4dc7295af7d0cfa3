"""Feedback through `Assistant.feedback`: stored and listed, one row per answer, bad input refused with a message
that says what to give, answers it didn't give refused, and 20 sessions at once losing nothing."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading

import pytest

from rag import Answer, Feedback, InvalidFeedback, RagError, UnknownAnswer
from rag.feedback import AnswerMemory, FeedbackStore, checked
from tests.fixtures.files import DATA

EXPORT_PAPERS = DATA / "export_papers.jsonl"
QUESTION = "Which papers here study optimal transport?"


@pytest.fixture
def assistant(new_assistant):
    return new_assistant(corpus=[EXPORT_PAPERS])


def test_feedback_is_stored_with_the_question_conversation_answer_and_notes(assistant):
    first = assistant.ask("What rate does the KME-OT estimator converge at?")
    history = [{"role": "user", "content": first.question}, first.as_message(), {"role": "system", "content": "x"}, None]
    answer = assistant.ask(QUESTION, history)
    assert len(answer.citations) >= 2 and answer.id and answer.id != first.id

    row = assistant.feedback(answer, -1, comment="  The second one is off topic\x00 ", wrong_citations=[2])
    assert isinstance(row, Feedback) and row.id == 1 and row.answer_id == answer.id
    assert row.rating == -1 and row.comment == "The second one is off topic" and row.wrong_citations == [2]
    assert row.question == QUESTION and row.answer == answer
    assert row.history == [{"role": "user", "content": first.question}, first.as_message()]  # junk turns left out
    assert [c.title for c in row.kept_citations] == [c.title for c in answer.citations if c.number != 2]

    # The same answer again is the same feedback, revised; another answer is a new row.
    again = assistant.feedback(answer, -1, comment="both are fine after all", missing_paper="2401.00002")
    assert again.id == row.id and again.created == row.created and again.wrong_citations == []
    assert again.missing_paper.title == "Sparse Gaussian processes in #linear time" and "linear time" in again.missing_paper.abstract
    up = assistant.feedback(first, +1)
    store = assistant.feedback_store
    assert [r.id for r in store.list()] == [row.id, up.id] and store.count() == 2
    assert up.id == row.id + 1  # updating a row uses up no id: the next feedback is numbered on from it
    assert store.get(up.id).rating == 1 and store.for_answer(answer.id).comment == "both are fine after all"

    # In a file of its own under RAG_HOME, in WAL mode, readable by its owner only; another process reads it.
    path = assistant.settings.home / "feedback.sqlite"
    assert store.path == path and stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        stored = db.execute("SELECT answer FROM feedback WHERE id = ?", (row.id,)).fetchone()[0]
    assert Answer.model_validate_json(stored) == answer
    other = FeedbackStore(path)
    assert [r.model_dump() for r in other.list()] == [r.model_dump() for r in store.list()]

    assert store.delete(up.id).id == up.id and store.count() == 1
    with pytest.raises(InvalidFeedback, match=r"no feedback #99; `rag feedback list` shows"):
        store.delete(99)
    other.close()


def test_a_title_names_the_missing_paper_whatever_its_case_and_spacing(assistant):
    answer = assistant.ask("What is the boiling point of tungsten at the summit of Everest?")
    assert answer.refused
    row = assistant.feedback(answer, -1, missing_paper="  sparse gaussian PROCESSES in #linear   time ")
    assert row.missing_paper.paper_id == "2401.00002"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rating": 0}, r"rating must be \+1 \(thumbs up\) or -1 \(thumbs down\); got 0"),
        ({"rating": 5}, r"got 5"),
        ({"rating": True}, r"got True"),
        ({"rating": "+1"}, r"got '\+1'"),
        ({"rating": -1, "wrong_citations": [7]}, r"The answer cites {cited}; it has no \[7\]\. Mark only numbers the answer shows"),
        ({"rating": -1, "wrong_citations": ["2"]}, r"citation numbers such as 2"),
        ({"rating": -1, "wrong_citations": 2}, r"takes a list of the citation numbers"),
        ({"rating": -1, "missing_paper": "A paper nobody wrote"}, r"No indexed paper has the id or title 'A paper nobody wrote'\. Name the paper by its id"),
        ({"rating": -1, "missing_paper": 42}, r"missing_paper is a paper id or title, as text"),
        ({"rating": -1, "comment": "x" * 5000}, r"The note is 5,000 characters long; keep it to 4,000"),
        ({"rating": -1, "comment": ["x"]}, r"comment must be text"),
    ],
)
def test_bad_feedback_is_refused_saying_what_to_give(assistant, kwargs, message):
    answer = assistant.ask(QUESTION)
    numbers = [c.number for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 2  # the optimal-transport papers
    message = message.replace("{cited}", ", ".join(rf"\[{n}\]" for n in numbers))
    with pytest.raises(InvalidFeedback, match=message) as caught:
        assistant.feedback(answer, **kwargs)
    assert isinstance(caught.value, RagError) and isinstance(caught.value, ValueError)
    assert assistant.feedback_store.count() == 0


def test_a_refusal_has_no_citations_to_mark_and_a_thumbs_up_on_it_names_no_paper(assistant):
    refused = assistant.ask("What is the boiling point of tungsten at the summit of Everest?")
    with pytest.raises(InvalidFeedback, match="cites nothing, so no citation can be marked wrong"):
        assistant.feedback(refused, -1, wrong_citations=[1])
    with pytest.raises(InvalidFeedback, match="to name a paper that does, give rating=-1"):
        assistant.feedback(refused, +1, missing_paper="2401.00002")
    assert assistant.feedback(refused, +1).answer.refused


def test_only_answers_this_assistant_gave_lately_are_taken(assistant, new_assistant):
    answer = assistant.ask(QUESTION)
    rebuilt = Answer.model_validate_json(answer.to_json())  # the same id, but a copy: still ours, stored as given
    rebuilt.text = "Something the assistant never said."
    assert assistant.feedback(rebuilt, +1).answer.text == answer.text

    made_up = Answer(question=QUESTION, text="Optimal transport is studied by [1].")
    elsewhere = new_assistant("elsewhere", corpus=[EXPORT_PAPERS]).ask(QUESTION)  # another process's, in effect
    for foreign in (made_up, elsewhere):
        with pytest.raises(UnknownAnswer, match="did not give that answer, or gave it too long ago.*Ask the question again"):
            assistant.feedback(foreign, +1)
    with pytest.raises(InvalidFeedback, match="Feedback is given on an Answer.*got dict"):
        assistant.feedback(answer.model_dump(), +1)

    # Bounded: the oldest answers are forgotten first.
    memory = AnswerMemory(capacity=2)
    given = [assistant.ask(q) for q in (QUESTION, "What rate does KME-OT converge at?", "How fast is rendering?")]
    for one in given:
        memory.remember(one, one.question)
    assert len(memory) == 2 and memory.recall(given[2]).answer == given[2]
    with pytest.raises(UnknownAnswer, match="the last 2 of them"):
        memory.recall(given[0])
    assert assistant.feedback_store.count() == 1


def test_twenty_sessions_giving_feedback_at_once_lose_nothing(assistant):
    answers = [assistant.ask(QUESTION) for _ in range(20)]  # twenty answers, twenty ids
    # Half write through the assistant, half through a second connection to the same file (another process's).
    second = FeedbackStore(assistant.feedback_store.path)
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def give(i: int) -> None:
        try:
            start.wait()
            if i % 2:
                assistant.feedback(answers[i], -1 if i % 4 == 1 else 1, comment=f"session {i}", wrong_citations=[1] if i % 4 == 1 else [])
            else:
                second.save(checked(assistant.answers.recall(answers[i]), 1, comment=f"session {i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=give, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    rows = assistant.feedback_store.list()
    assert len(rows) == 20 and len({r.id for r in rows}) == 20
    assert {r.answer_id: r.comment for r in rows} == {a.id: f"session {i}" for i, a in enumerate(answers)}
    assert sum(r.rating == -1 for r in rows) == 5 and all(r.wrong_citations == [1] for r in rows if r.rating == -1)
    second.close()


def test_a_new_feedback_file_opened_by_many_connections_at_once_opens_for_all(tmp_path):
    # The chat's first thumbs-up and `rag feedback list` in another process can open a file that doesn't exist
    # yet at the same moment; SQLite refuses the WAL switch at once rather than waiting, and before the store
    # retried it, about one such opening in ten failed as "database is locked" (CI, stop 22).
    for trial in range(40):
        stores = [FeedbackStore(tmp_path / f"trial{trial}" / "feedback.sqlite") for _ in range(8)]
        start = threading.Barrier(len(stores))
        errors: list[BaseException] = []

        def open_and_read(store: FeedbackStore) -> None:
            start.wait()
            try:
                assert store.list() == []
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_and_read, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, f"trial {trial}: {errors}"
        for store in stores:
            store.close()
        with sqlite3.connect(tmp_path / f"trial{trial}" / "feedback.sqlite") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_feedback_file_that_cannot_be_written_is_a_store_error_naming_what_to_check(assistant, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    store = FeedbackStore(blocked / "feedback.sqlite")
    answer = assistant.ask(QUESTION)
    with pytest.raises(RagError, match="Could not open the feedback file .*Check that RAG_HOME is on a writable disk"):
        store.save(checked(assistant.answers.recall(answer), 1))
    assert json.loads(assistant.feedback(answer, 1).model_dump_json())["rating"] == 1
