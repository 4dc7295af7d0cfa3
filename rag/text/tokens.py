"""Words and BM25 terms: the one tokeniser the index, the retriever and the answer checks share.

A term is a lower-cased word with TeX formatting commands and accents removed (Schrödinger ->
schrodinger), not a stop word, stemmed with Snowball English (Porter 2, PyStemmer's C implementation).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

# NLTK's English stop words, plus a few words every question carries.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with you your yours yourself
    yourselves would could also may might must shall can't cannot via""".split()
)

_LATEX_FORMAT = re.compile(
    r"\\(?:mathcal|mathbf|mathbb|mathrm|mathit|mathsf|boldsymbol|textbf|textit|emph|text|left|right|big|Big|bigg|Bigg|cdot|quad)\b"
)
_WORD = re.compile(r"[^\W_]+")

_stemmer_lock = threading.Lock()


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: the Snowball English (Porter 2) stemmer, in C

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1_000_000)
def stem(word: str) -> str:
    with _stemmer_lock:  # a Stemmer object is not thread-safe
        return _stemmer().stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased words with TeX formatting commands and accents removed (Schrödinger -> schrodinger)."""
    text = _LATEX_FORMAT.sub(" ", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _WORD.findall(text)


def tokenize(text: str) -> list[str]:
    """BM25 terms: stemmed words without stop words."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


@lru_cache(maxsize=100_000)
def zipf(word: str) -> float:
    """How common a word is in general English (wordfreq's Zipf scale: 'qubit' 2.2, 'parameters' 4.0,
    'change' 5.2; 0 for a word it has never seen)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")
