"""arXiv's category taxonomy (https://arxiv.org/category_taxonomy), to refuse a misspelt category up front.

The arXiv API answers an unknown category with an empty result, not an error: without this check
`rag sync arxiv --category cs.lg` would sync nothing, every day, and say all went well.
"""

from __future__ import annotations

import difflib

from rag.errors import RagError

_GROUPS = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn gen-ph "
    "geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives that are categories themselves (astro-ph and cond-mat are searched as a whole too).
_WHOLE = "astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph"

CATEGORIES: frozenset[str] = frozenset(
    [f"{group}.{sub}" for group, subs in _GROUPS.items() for sub in subs.split()] + _WHOLE.split()
)


def check_category(value: str) -> str:
    """``value`` if it is an arXiv category, else a `RagError` naming the closest one."""
    name = (value or "").strip()
    if name in CATEGORIES:
        return name
    exact_case = {c.lower(): c for c in CATEGORIES}.get(name.lower())
    close = [exact_case] if exact_case else difflib.get_close_matches(name, sorted(CATEGORIES), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else " (e.g. cs.LG, cs.CL, stat.ML, hep-th: https://arxiv.org/category_taxonomy)."
    raise RagError(f"{name[:40]!r} is not an arXiv category{hint}")
