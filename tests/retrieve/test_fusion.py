"""rag.retrieve.fusion: the normalisations, the weighted fusion and the ranking, by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.retrieve.fusion import RRF_K, fuse, minmax, ranked, reciprocal_ranks, zscore

DENSE = {"a": 0.9, "b": 0.5, "c": 0.1}
LEXICAL = {"a": 2.0, "b": 12.0, "c": 7.0}


# --- normalisations ------------------------------------------------------------------------------------


def test_minmax_maps_the_lowest_to_0_and_the_highest_to_1():
    assert minmax({"a": 1.0, "b": 3.0, "c": 2.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": -4.0, "b": 4.0}) == {"a": 0.0, "b": 1.0}


def test_minmax_of_equal_scores_is_1_when_positive_and_0_otherwise():
    assert minmax({"a": 0.7, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert minmax({"only": 3.0}) == {"only": 1.0}
    assert minmax({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    assert minmax({"a": -1.0}) == {"a": 0.0}
    assert minmax({}) == {}


def test_zscore_centres_and_scales():
    scores = zscore({"a": 1.0, "b": 2.0, "c": 3.0})
    spread = math.sqrt(2 / 3)  # the population standard deviation of 1, 2, 3
    assert scores == pytest.approx({"a": -1 / spread, "b": 0.0, "c": 1 / spread})
    assert sum(scores.values()) == pytest.approx(0.0)
    assert zscore({"a": 5.0, "b": 5.0}) == {"a": 0.0, "b": 0.0}  # no spread: no information
    assert zscore({}) == {}


def test_reciprocal_ranks_use_the_order_only_ties_by_key():
    assert reciprocal_ranks({"x": 100.0, "y": 0.2, "z": 0.3}) == {"x": 1 / (RRF_K + 1), "z": 1 / (RRF_K + 2), "y": 1 / (RRF_K + 3)}
    assert reciprocal_ranks({"b": 1.0, "a": 1.0, "c": 2.0}) == {"c": 1 / (RRF_K + 1), "a": 1 / (RRF_K + 2), "b": 1 / (RRF_K + 3)}
    assert reciprocal_ranks({}) == {}


# --- fusion ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [1.0, 1.5])
def test_weight_1_is_the_dense_side_alone_with_its_raw_scores(weight):
    fused = fuse(DENSE, LEXICAL, weight)
    assert fused == DENSE and fused is not DENSE
    assert fuse({"a": 0.3}, {"b": 9.0}, weight) == {"a": 0.3}  # a lexical-only paper is not a candidate


@pytest.mark.parametrize("weight", [0.0, -0.5])
def test_weight_0_is_the_lexical_side_alone_with_its_raw_scores(weight):
    fused = fuse(DENSE, LEXICAL, weight)
    assert fused == LEXICAL and fused is not LEXICAL
    assert fuse({"a": 0.3}, {"b": 9.0}, weight) == {"b": 9.0}


def test_relative_score_is_the_weighted_sum_of_minmax_scores():
    fused = fuse(DENSE, LEXICAL, 0.6)
    # dense minmax: a 1, b 0.5, c 0; lexical minmax: a 0, b 1, c 0.5
    assert fused == pytest.approx({"a": 0.6, "b": 0.6 * 0.5 + 0.4, "c": 0.4 * 0.5})
    assert list(fused) == ["a", "b", "c"]
    assert ranked(fused, 3) == ["b", "a", "c"]


def test_the_weight_moves_the_winner_from_one_side_to_the_other():
    assert ranked(fuse(DENSE, LEXICAL, 0.9), 1) == ["a"]  # the dense favourite
    assert ranked(fuse(DENSE, LEXICAL, 0.1), 1) == ["b"]  # the lexical favourite


def test_dist_based_score_is_the_weighted_sum_of_zscores():
    fused = fuse(DENSE, LEXICAL, 0.5, "dist_based_score")
    nd, nl = zscore(DENSE), zscore(LEXICAL)
    assert fused == pytest.approx({k: 0.5 * nd[k] + 0.5 * nl[k] for k in DENSE})


def test_reciprocal_rank_ignores_the_scores_and_fuses_the_ranks():
    fused = fuse(DENSE, LEXICAL, 0.5, "reciprocal_rank")
    # dense ranks a 1, b 2, c 3; lexical ranks b 1, c 2, a 3
    expected = {"a": 0.5 / (RRF_K + 1) + 0.5 / (RRF_K + 3), "b": 0.5 / (RRF_K + 2) + 0.5 / (RRF_K + 1),
                "c": 0.5 / (RRF_K + 3) + 0.5 / (RRF_K + 2)}
    assert fused == pytest.approx(expected)
    assert fuse({"a": 1000.0, "b": 1.0}, {"a": 1.0, "b": 1000.0}, 0.5, "reciprocal_rank") == pytest.approx(
        fuse({"a": 0.2, "b": 0.1}, {"a": 0.1, "b": 0.2}, 0.5, "reciprocal_rank"))


def test_a_candidate_missing_from_one_side_counts_as_0_there():
    """Why the retriever scores every candidate on both sides before fusing: a missing score is a zero."""
    fused = fuse({"a": 0.9, "b": 0.1}, {"c": 3.0, "a": 1.0}, 0.5)
    assert list(fused) == ["a", "b", "c"]
    assert fused == pytest.approx({"a": 0.5 * 1 + 0.5 * 0, "b": 0.0, "c": 0.5 * 0 + 0.5 * 1})


def test_fusing_leaves_its_inputs_alone():
    dense, lexical = dict(DENSE), dict(LEXICAL)
    for mode in ("relative_score", "dist_based_score", "reciprocal_rank"):
        fuse(dense, lexical, 0.5, mode)
    assert dense == DENSE and lexical == LEXICAL


SCORES = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(-50, 50, allow_nan=False), max_size=8)


@given(dense=SCORES, lexical=SCORES, weight=st.floats(0.01, 0.99))
def test_relative_scores_stay_between_0_and_1_and_cover_every_candidate(dense, lexical, weight):
    fused = fuse(dense, lexical, weight)
    assert set(fused) == set(dense) | set(lexical)
    assert all(-1e-9 <= v <= 1 + 1e-9 for v in fused.values())


# --- ranking ----------------------------------------------------------------------------------------------


def test_ranked_takes_the_k_best_and_breaks_ties_by_id():
    scores = {"p3": 0.5, "p1": 0.5, "p2": 0.9, "p0": 0.1}
    assert ranked(scores, 10) == ["p2", "p1", "p3", "p0"]
    assert ranked(scores, 2) == ["p2", "p1"]
    assert ranked(dict(reversed(list(scores.items()))), 4) == ranked(scores, 4)  # dict order never matters
    assert ranked({}, 3) == []
