"""A picture of the corpus: the papers on a 2-D map, and what the corpus holds (categories, dates).

Every paper record in Chroma carries one vector, the mean of its chunk vectors (see rag/index/chroma.py); papers
about the same thing sit close together in that space. The map projects those vectors to 2-D with t-SNE
(PCA for a handful of papers) and groups papers two ways: by their first category, where the corpus has
categories, and by topic (k-means over the vectors, each cluster named by the title words that set it
apart). A large corpus is drawn from a fixed random sample, so the map stays readable and quick.

The facets (category counts, date range) are counted over every paper, not the sample: the chat's filters
are built from them. Results are cached per store and corpus generation, so the map is computed once per
ingest, not once per page view.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import numpy as np
from pydantic import BaseModel

from rag.index.chroma import ChromaStore

log = logging.getLogger(__name__)

OTHER = "other"
NO_CATEGORY = "no category"


class MapPoint(BaseModel):
    paper_id: str
    title: str
    x: float
    y: float
    category: str  # the paper's first category, one of the most common few, else "other"/"no category"
    topic: str  # its k-means cluster, named by distinctive title words
    date: str = ""


class CorpusMap(BaseModel):
    total: int = 0  # papers indexed
    points: list[MapPoint] = []  # at most `max_points`, a fixed random sample of a larger corpus
    method: str = ""  # "t-SNE" or "PCA"
    categories: dict[str, int] = {}  # every category with its paper count, most common first
    with_categories: int = 0  # papers that have at least one category
    date_min: str = ""
    date_max: str = ""
    with_dates: int = 0  # papers that have a date
    generation: int = 0  # the store generation this map was computed for

    @property
    def sampled(self) -> bool:
        return len(self.points) < self.total


_cache: dict[tuple, CorpusMap] = {}
_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()


def corpus_map(store: ChromaStore, max_points: int = 1000, seed: int = 0) -> CorpusMap:
    """The corpus map and facets of ``store``, cached until the next ingest changes the corpus.

    ``max_points=0`` gives the facets alone: one pass over the metadata, no vectors, no projection.
    Concurrent callers of the same map wait for one computation instead of each starting their own.
    """
    key = (store.location, store.papers.name, max_points, seed)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        generation, total = store.generation(), store.count()
        cached = _cache.get(key)
        if cached is not None and cached.generation == generation and cached.total == total:
            return cached
        result = _build(store, max_points, seed)
        result.generation = generation  # as read before building: a concurrent ingest means a rebuild next time
        _cache[key] = result
        return result


def _build(store: ChromaStore, max_points: int, seed: int) -> CorpusMap:
    ids: list[str] = []
    titles: list[str] = []
    firsts: list[str] = []
    dates: list[str] = []
    counts: Counter[str] = Counter()
    offset, page = 0, 5000
    while True:  # metadata only: cheap even for 100k papers
        got = store.papers.get(include=["metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            break
        for pid, meta in zip(got["ids"], got["metadatas"]):
            cats = list(meta.get("categories") or [])
            counts.update(cats)
            ids.append(pid)
            titles.append(str(meta.get("title", "")))
            firsts.append(cats[0] if cats else "")
            dates.append(str(meta.get("date_text", "") or ""))
        offset += len(got["ids"])

    known_dates = sorted(d for d in dates if d)
    result = CorpusMap(
        total=len(ids),
        categories=dict(counts.most_common()),
        with_categories=sum(1 for f in firsts if f),
        date_min=known_dates[0] if known_dates else "",
        date_max=known_dates[-1] if known_dates else "",
        with_dates=len(known_dates),
    )
    if not ids or max_points <= 0:
        return result

    rng = np.random.default_rng(seed)
    order = np.sort(rng.choice(len(ids), size=max_points, replace=False)) if len(ids) > max_points else np.arange(len(ids))
    chosen = [ids[i] for i in order]
    vectors = _vectors(store, chosen)
    keep = [i for i, pid in zip(order, chosen) if pid in vectors]
    if not keep:
        return result
    matrix = np.stack([vectors[ids[i]] for i in keep]).astype(np.float32)
    xy, result.method = _project(matrix, seed)
    topics = _topics(matrix, [titles[i] for i in keep], seed)
    shown = {c for c, _ in counts.most_common(9)}  # a legend beyond ~10 colours is unreadable
    for row, i in enumerate(keep):
        first = firsts[i]
        category = (first if first in shown else OTHER) if first else NO_CATEGORY
        result.points.append(
            MapPoint(
                paper_id=ids[i], title=titles[i], x=round(float(xy[row, 0]), 4), y=round(float(xy[row, 1]), 4),
                category=category, topic=topics[row], date=dates[i],
            )
        )
    return result


def _vectors(store: ChromaStore, paper_ids: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for begin in range(0, len(paper_ids), 1000):
        got = store.papers.get(ids=paper_ids[begin : begin + 1000], include=["embeddings"])
        for pid, vec in zip(got["ids"], got["embeddings"]):
            out[pid] = np.asarray(vec, dtype=np.float32)
    return out


def _project(matrix: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    n = len(matrix)
    if n == 1:
        return np.zeros((1, 2)), "PCA"
    if n < 8:  # t-SNE needs more points than its perplexity; a handful reads fine on principal axes
        from sklearn.decomposition import PCA

        xy = PCA(n_components=min(2, n), random_state=seed).fit_transform(matrix)
        return (np.hstack([xy, np.zeros((n, 1))]) if xy.shape[1] == 1 else xy), "PCA"
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    # The vectors are unit length, so Euclidean neighbours are cosine neighbours. PCA to 50 dimensions
    # first and 500 iterations (not 1,000) keep a 1,000-paper map to seconds; perplexity must stay
    # below the point count.
    reduced = PCA(n_components=min(50, n, matrix.shape[1]), random_state=seed).fit_transform(matrix)
    tsne = TSNE(2, perplexity=float(min(30, (n - 1) / 3)), init="pca", max_iter=500, random_state=seed)
    return tsne.fit_transform(reduced), "t-SNE"


def _topics(matrix: np.ndarray, titles: list[str], seed: int) -> list[str]:
    """A k-means cluster per paper, named by the two or three title words most typical of the cluster."""
    n = len(matrix)
    clusters = int(np.clip(round(np.sqrt(n / 2)), 1, 10))
    if clusters < 2:
        return ["all papers"] * n
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    labels = KMeans(n_clusters=clusters, n_init=4, random_state=seed).fit_predict(matrix)
    try:
        tfidf = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[A-Za-z][A-Za-z0-9-]{2,}\b")
        weights = tfidf.fit_transform(titles)
        vocabulary = np.array(tfidf.get_feature_names_out())
        overall = np.asarray(weights.mean(axis=0)).ravel()
    except ValueError:  # titles with no usable words at all
        return [f"topic {label + 1}" for label in labels]
    names: dict[int, str] = {}
    for label in range(clusters):
        rows = np.flatnonzero(labels == label)
        distinct = np.asarray(weights[rows].mean(axis=0)).ravel() - overall
        top = [vocabulary[j] for j in np.argsort(-distinct)[:3] if distinct[j] > 0]
        name = ", ".join(top) if top else f"topic {label + 1}"
        while name in names.values():  # two clusters must never share a legend entry
            name += "'"
        names[label] = name
    return [names[label] for label in labels]
