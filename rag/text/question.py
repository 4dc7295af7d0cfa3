"""What a question asks: its content terms, the names it uses, whether it wants a figure, one paper or several.

The extractive answerer reads a question through its `QuestionProfile`: what a sentence must contain to
answer it, and whether one paper or a list of papers is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rag.text.tokens import STOPWORDS, tokenize, words, zipf

# Words that say how to answer rather than what about (stemmed like the index).
_SCAFFOLD = set(
    tokenize(
        """paper papers work works study studies method methods approach approaches propose proposed proposes
        present presents introduce introduces show shows report reports reported get gets got achieve achieves
        obtain obtains give gives use uses used using new main many much exactly exact specific specifically
        roughly value kind type here collection corpus abstract abstracts author authors find look looking
        anything something tell explain describe summarize summarise list mention mentions mentioned discuss
        discusses article articles claim claims idea ideas contribution contributions key core based one ones
        any some there exist exists research researcher researchers know way ways help please particular whose
        reach reaches try tried tries actually really bring brings kind sort talk talks deal deals address
        addresses able doing done make makes made also paper's whether benchmark benchmarks dataset datasets
        experiment experiments result results performance perform performs well hardest best part variant
        version claim claims compare compared save saves"""
    )
)
_MULTI = re.compile(
    r"\b(which|what|list|name|any|all|are there)\b[^?.]*\b(papers|works|studies|articles|methods|approaches)\b"
    r"|\bpapers (here|in (the|this) (collection|corpus|index))\b",
    re.IGNORECASE,
)
_IDENTIFY = re.compile(
    r"^\s*(which|what) (paper|work|study|article|survey|method|approach|algorithm|framework|technique)\b"
    r"|\b(is there|are there|does any|do any|any paper|looking for|i remember|find (me )?(a|the) paper|"
    r"a paper (that|which|about|on)|i'm looking)\b",
    re.IGNORECASE,
)
_FIGURE_WORDS = (
    r"percentage|fraction|number|score|scores|accuracy|speedup|speed-up|value|size|f-score|fid|error|ratio|"
    r"improvement|reduction|order|rate|rates|regret|complexity|bound|mse|auc|perplexity|bleu|time|cost|gain|"
    r"mass|temperature|energy|frequency|length|duration|memory|budget|price|count|dimension|depth|width|"
    r"sharpe ratio|return|returns|margin|percent"
)
_WANTS_FIGURE = re.compile(
    rf"\bhow (many|much|large|big|long|fast|small|often)\b|\bby how much\b|\bwhat(?: [\w-]+){{0,3}}? ({_FIGURE_WORDS})\b",
    re.IGNORECASE,
)
_COUNTED = re.compile(
    rf"\bhow many (?:\w+[- ])?(\w+)|\bwhat(?: [\w-]+){{0,3}}? ({_FIGURE_WORDS})\b",
    re.IGNORECASE,
)
# Names: tokens with inner capitals or digits (ImageNet-1K, WikiText-2, AlphaFold, ViT-B/16) or all
# capitals (BLEU, GPU). If a question names one, an answer has to contain it.
_NAME = re.compile(r"\b(?:[A-Za-z]*[a-z][A-Z][\w./+-]*|[A-Z][\w]*\d[\w./+-]*|[A-Z]{2,}[\w./+-]*)")

_GENERIC_MEASURES = set(
    tokenize(
        "score scores accuracy size value number rate rates improvement performance speedup speed-up gain "
        "percentage fraction order time cost error reduction"
    )
)
_GENERIC_ACRONYMS = {"sota", "llm", "llms", "ai", "ml", "dl", "nlp", "rl", "ood", "usa", "uk"}


@dataclass
class QuestionProfile:
    text: str
    terms: list[str]  # content terms, stemmed, question scaffolding removed
    surface: dict[str, str] = field(default_factory=dict)  # stem -> a word of the question it came from
    names: list[str] = field(default_factory=list)  # named things the answer must contain, normalised
    multi: bool = False  # asks for every paper that fits
    identify: bool = False  # asks which paper: the answer is the paper itself
    wants_figure: bool = False  # asks for a number, a rate, a score
    counted: str = ""  # stem of what the figure counts ("how many tasks" -> "task", "what perplexity")


def name_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


# "(not CIFAR-100)", "but not quantum gravity": what the asker excludes is not what they ask about.
_NEGATED = re.compile(r"\(\s*(?:not|excluding|except)\b[^)]*\)|\b(?:but )?(?:not|excluding|except)\b[^,;:?)]*", re.IGNORECASE)


def profile_question(question: str) -> QuestionProfile:
    question_text = question
    question = _NEGATED.sub(" ", question)
    surface: dict[str, str] = {}
    for word in words(question):
        if word in STOPWORDS:
            continue
        stem = tokenize(word)
        if stem and stem[0] not in _SCAFFOLD and (len(stem[0]) > 1 or stem[0].isdigit()):
            surface.setdefault(stem[0], word)
    names = []
    for match in _NAME.finditer(question):
        token = match.group(0).rstrip(".,;:?!'\")/")
        token = re.sub(r"(?:-[a-z]+)+$", "", token)  # "SDE-based", "LLM-generated": the name is the first part
        if len(name_key(token)) < 2 or name_key(token) in _GENERIC_ACRONYMS:
            continue
        names.append(name_key(token))
    counted = ""
    found = _COUNTED.search(question)
    if found:
        word = next(g for g in found.groups() if g)
        stems = [t for t in tokenize(word) if len(t) > 1]
        # "What score / accuracy / size ...": papers state the figure without naming the measure
        # ("86% on Long Range Arena"), so only a specific measure (perplexity, mass) must be named.
        if stems and stems[-1] not in _SCAFFOLD and (found.group(1) or stems[-1] not in _GENERIC_MEASURES):
            counted = stems[-1]
    return QuestionProfile(
        text=question_text,
        terms=list(surface),
        surface=surface,
        names=list(dict.fromkeys(names)),
        multi=bool(_MULTI.search(question)),
        identify=bool(_IDENTIFY.search(question)),
        wants_figure=bool(_WANTS_FIGURE.search(question)),
        counted=counted,
    )


# Details abstracts practically never state; asking for one is asking for something specific.
_NEVER_IN_ABSTRACTS = {
    "university", "universities", "institution", "institutions", "affiliation", "affiliations", "affiliated",
    "funded", "funding", "grant", "grants", "venue", "conference", "journal", "hardware", "gpu", "gpus",
    "hours", "salary", "nationality", "email",
}


@lru_cache(maxsize=100_000)
def specificity(word: str) -> float:
    """How much a word names a particular thing (1) rather than being everyday English (0).

    From its frequency in general English (wordfreq's Zipf scale: 'qubit' 2.2, 'parameters' 4.0,
    'change' 5.2). A question word of high specificity that a paper never uses means that paper
    doesn't answer the question.
    """
    if word in _NEVER_IN_ABSTRACTS:
        return 1.0
    return max(0.0, min(1.0, (5.5 - zipf(word)) / 3.0))


