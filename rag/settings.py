"""Every knob of the assistant, typed, in one tree.

Values come from (highest first) keyword arguments, ``RAG_*`` environment variables, then the defaults
below. Nested fields are reached with one underscore after the section name, so ``RAG_LLM_MODEL`` sets
``settings.llm.model``, ``RAG_CHROMA_HOST`` sets ``settings.chroma.host`` and ``RAG_HOME`` sets ``settings.home``.
The standard ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` are honoured for the LLM endpoint.

Unknown keys are refused (as paper-qa's settings do): ``Settings(retreival={"k": 9})`` and
``Settings(retrieval={"kk": 9})`` raise instead of passing silently. A ``RAG_*`` environment variable that
names no setting gets a warning naming the closest one (``RAG_RETREIVAL_K`` -> ``RAG_RETRIEVAL_K``).
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
BUNDLED_CORPUS = PACKAGE_DIR / "data" / "trending_papers.txt"


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag-abstracts"


def _default_prompts_dir() -> Path:
    # An editable install (what `make` does) reads the repository's prompts/ folder; a wheel carries a copy.
    repo = PROJECT_DIR / "prompts"
    return repo if repo.is_dir() else PACKAGE_DIR / "prompts"


class Section(BaseModel):
    """A section of the settings tree: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class CorpusSettings(Section):
    default: Path = Field(BUNDLED_CORPUS, description="Corpus indexed on first use when the index is empty.")
    auto_index: bool = Field(True, description="Index the default corpus on first use.")
    max_record_chars: int = Field(1_000_000, description="Records (lines) longer than this are skipped.")
    # Checked before an ingest and before each batch: stopping cleanly beats Chroma or SQLite failing
    # half-way through a write on a full disk. 0 turns the check off.
    min_free_mb: int = Field(100, ge=0, description="Ingest stops, keeping what it wrote, below this much free disk.")


class ChunkingSettings(Section):
    # One sentence per chunk (with the title): retrieval was as good as 128-token windows on the dev set
    # (python -m benchmarks.quality.chunking), indexing was faster, and the answerer reuses the stored sentence vectors
    # instead of embedding sentences per question. MiniLM reads at most 256 word pieces; a longer
    # sentence is cut at word boundaries so nothing is silently dropped.
    max_tokens: int = Field(128, ge=32, le=254)
    overlap_sentences: int = Field(0, ge=0, le=3)
    max_sentences: int = Field(1, ge=0, le=50, description="Sentences per chunk at most; 0 for no limit.")


class EmbeddingSettings(Section):
    backend: Literal["minilm", "hashing"] = Field(
        "minilm", description="'hashing' is a fast deterministic fake for tests; never for real use."
    )
    batch_size: int = Field(64, ge=1)
    threads: int = Field(0, ge=0, description="torch threads; 0 keeps torch's default (all cores).")


class ChromaSettings(Section):
    host: str = Field("", description="Chroma server host; empty means an embedded store under `home`.")
    port: int = 8000
    ssl: bool = False
    token: SecretStr = Field(SecretStr(""), description="Sent as a bearer token to the Chroma server.")
    timeout: float = Field(30.0, gt=0, description="Seconds a Chroma server request may take before it fails.")
    collection: str = Field("abstracts", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]$")
    check_on_open: bool = Field(
        True,
        description="Load an embedded store in a child process first whenever its index files changed, so files "
        "that crash Chroma give a clear error instead of killing this process (rag/store_check.py).",
    )
    check_timeout: float = Field(900.0, gt=0, description="Seconds that check may take (it loads the whole index).")
    ef_search: int = Field(
        1000, ge=100, le=10000,
        description="How wide Chroma's HNSW search looks for the nearest chunks. Chroma's own 100 found 81% of the "
        "exact 100 nearest at 8k papers, and different ones in different processes; 1,000 finds 99% for ~3 ms more "
        "and all of them in a small corpus, the same every time (BENCHMARKS, 'Chunk search width').",
    )


class RetrievalSettings(Section):
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    k: int = Field(5, ge=1, le=100, description="Papers handed to the answerer.")
    # Both chosen on tuning questions at three corpus sizes (benchmarks/quality/tune_views.py): against 0.6
    # and 0, no figure fell and six of seven rose (paraphrase recall@3 0.72 -> 0.75 among 8,000 papers).
    dense_weight: float = Field(0.4, ge=0.0, le=1.0, description="Share of the dense (best chunk) score in the fusion.")
    abstract_weight: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of the papers' own vectors (title + abstract) in the fusion; BM25 has the rest."
    )
    candidates: int = Field(50, ge=5, le=1000, description="Papers each retriever proposes before fusion.")
    fusion: Literal["relative_score", "dist_based_score", "reciprocal_rank"] = Field(
        "relative_score", description="How the dense and BM25 rankings are fused (rag/retrieve/fusion.py)."
    )
    max_query_chars: int = Field(2000, ge=50, description="Longer questions are cut to this for retrieval.")


class AnswerSettings(Section):
    mode: Literal["auto", "extractive", "llm"] = Field(
        "auto", description="auto: the LLM when an endpoint is configured, else extractive."
    )
    max_sentences: int = Field(3, ge=1, le=10, description="Sentences quoted per paper by the extractive answerer.")
    decider: Literal["learned", "rules"] = Field(
        "learned", description="Which papers answer: the learned model (rag/answer/models/answerer.json) or the old hand rules (a baseline)."
    )
    decider_model: str = Field(
        "", description="The learned decider's model file, e.g. one `python -m training.answerer --out` wrote; empty: the one shipped."
    )
    max_papers: int = Field(8, ge=1, le=30, description="Papers listed for questions that span papers.")
    min_support: float = Field(
        0.45, ge=0.0, le=1.0, description="A generated claim whose support score by its cited text is lower is marked unsupported."
    )


class LLMSettings(Section):
    base_url: str = Field("", description="OpenAI-compatible endpoint; OPENAI_BASE_URL is honoured.")
    api_key: SecretStr = Field(SecretStr(""), description="OPENAI_API_KEY is honoured.")
    model: str = "gpt-4o-mini"
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(700, ge=16)
    retry_backoff: float = Field(0.5, ge=0.0, le=60.0, description="First wait between retries, doubled each time.")
    max_seconds: float = Field(120.0, gt=0, description="Wall-clock limit of one streamed answer; past it the answer is cut.")

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key.get_secret_value())


class UISettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    auth: SecretStr = Field(SecretStr(""), description="'user:password' required when not on loopback.")
    allow_unauthenticated: bool = Field(False, description="Serve a non-loopback address without a login.")
    max_upload_mb: int = Field(50, ge=1, description="Upload size limit, as sent (compressed, for a .gz).")
    # What an upload may unpack to and hold, counted while it is read: a .gz's size says little (a 4 MB
    # file of repeated records unpacks to gigabytes). Sized so a full 50 MB upload of real abstracts passes:
    # the 115k arXiv dump gzips 3.1x (69 MB -> 214 MB, ~1.9 KB a record), so 50 MB of it is ~155 MB and
    # ~83k records. Bigger corpora go in with `rag ingest`, which has no such limits.
    max_upload_unpacked_mb: int = Field(500, ge=1, description="Most an upload may unpack to (a .gz's contents).")
    max_upload_records: int = Field(100_000, ge=1, description="Most records one upload may hold.")
    # Answers run in worker threads: 2 keeps a 2-core machine responsive; each extra one costs ~1 core
    # while it works. Shared by the chat and the /ask API (one Gradio concurrency group).
    answer_concurrency: int = Field(2, ge=1, le=64, description="Answers computed at once (chat and /ask together).")


class ServeSettings(Section):
    """`rag serve` (the OpenAI-compatible endpoint) and `rag mcp --http`."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="`rag serve`'s port (the Chroma server's default too: pick another when both run here).")
    mcp_port: int = Field(8001, ge=0, le=65535, description="`rag mcp --http`'s port.")
    api_key: SecretStr = Field(
        SecretStr(""), description="Clients must send 'Authorization: Bearer <key>'; required to serve on an address other than loopback."
    )
    model: str = Field("rag-abstracts", min_length=1, max_length=100, description="The model name clients ask for.")
    max_body_kb: int = Field(256, ge=1, le=65536, description="Larger request bodies are refused (413).")
    # Answers run in worker threads; as with the chat, 2 keeps a 2-core machine responsive. Requests past
    # it wait their turn rather than fail.
    concurrency: int = Field(2, ge=1, le=64, description="Answers computed at once; more requests wait.")
    sources_in_content: bool = Field(
        False, description="Append the numbered sources to the answer text, for chat clients that show only the text."
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Seconds from ``6h``, ``30m``, ``1d``, ``90s`` or a plain number of seconds; ValueError naming the forms."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value or "0"))
        if not match:
            raise ValueError(f"{str(value)[:40]!r} is not a duration: write e.g. 6h, 30m, 1d or 90s")
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2).lower()]
    if seconds < 0:
        raise ValueError("a duration can't be negative")
    return seconds


class FeedSettings(Section):
    """`rag sync`: the live paper feeds (rag/feeds): the Hugging Face daily papers and arXiv categories."""

    hf_daily: bool = Field(True, description="`rag sync` alone syncs the Hugging Face daily papers.")
    arxiv_categories: Annotated[list[str], NoDecode] = Field(
        [], description="arXiv categories `rag sync` alone syncs, e.g. cs.LG,cs.CL (commas or a JSON list)."
    )
    hf_url: str = Field("https://huggingface.co", description="The daily papers API's base URL (a mirror or a test server).")
    arxiv_url: str = Field("https://export.arxiv.org", description="The arXiv API's base URL.")
    # Sent as a bearer token to hf_url. HF_TOKEN is honoured too, but only for huggingface.co itself: the
    # general token is not handed to whatever mirror RAG_FEEDS_HF_URL names.
    hf_token: SecretStr = Field(SecretStr(""), description="Hugging Face token (optional); never logged.")
    every: float = Field(0.0, ge=0, description="`rag ui` syncs the feeds in the background this often (6h, 30m, 1d); 0: never.")
    backfill_days: int = Field(7, ge=1, le=3660, description="Days a feed's first `rag sync` takes, today included.")
    catch_up_days: int = Field(90, ge=1, le=36600, description="Most days `rag sync` alone goes back to catch a feed up.")
    # The feeds still add to their latest days: a daily-papers list fills during its day, and arXiv lists a
    # Friday's submissions on the next Monday evening (US Eastern), i.e. up to 5 UTC days later. Those days
    # are fetched on every run and only marked done once they are older.
    recheck_days: int = Field(5, ge=1, le=60, description="The latest days (today included) fetched again on every run.")
    arxiv_pause: float = Field(3.0, ge=0, le=600, description="Seconds between arXiv API requests (arXiv asks for 3).")
    hf_page_size: int = Field(100, ge=1, le=1000, description="Papers asked for per daily-papers request (`limit`).")
    arxiv_page_size: int = Field(200, ge=1, le=2000, description="Entries asked for per arXiv request (`max_results`).")
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds for connecting to a feed and for each read.")
    max_retries: int = Field(4, ge=0, le=20, description="Retries of a request after a 429, a 5xx, a timeout or a cut connection.")
    retry_backoff: float = Field(2.0, ge=0, le=600, description="First wait between retries, doubled each time (Retry-After wins).")
    max_retry_after: float = Field(600.0, ge=0, description="A Retry-After longer than this fails the day instead of waiting.")

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> float:
        return parse_duration(value)

    @field_validator("arxiv_categories", mode="before")
    @classmethod
    def _categories(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: "cs.LG,cs.CL" or a JSON list
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part for part in re.split(r"[\s,]+", text) if part]
        return value

    @field_validator("hf_url", "arxiv_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value.strip()):
            raise ValueError(f"{value[:60]!r} is not an http(s) URL")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _hf_token(self) -> "FeedSettings":
        if not self.hf_token.get_secret_value() and os.environ.get("HF_TOKEN"):
            if re.match(r"^https://(?:[\w-]+\.)*huggingface\.co(?::443)?$", self.hf_url):
                self.hf_token = SecretStr(os.environ["HF_TOKEN"])
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(default_factory=_default_home, description="Data folder: the embedded Chroma store and the BM25 index.")
    prompts: Path = Field(default_factory=_default_prompts_dir)
    corpus: CorpusSettings = CorpusSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chroma: ChromaSettings = ChromaSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()
    ui: UISettings = UISettings()
    serve: ServeSettings = ServeSettings()
    feeds: FeedSettings = FeedSettings()

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _unknown_environment(self) -> "Settings":
        warn_unknown_environment()
        return self

    @model_validator(mode="after")
    def _openai_environment(self) -> "Settings":
        # The standard OpenAI variables fill in what RAG_LLM_* left unset.
        if not self.llm.base_url and os.environ.get("OPENAI_BASE_URL"):
            self.llm.base_url = os.environ["OPENAI_BASE_URL"]
        if not self.llm.api_key.get_secret_value() and os.environ.get("OPENAI_API_KEY"):
            self.llm.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        return self

    @classmethod
    def test_profile(cls, home: Path, **overrides) -> "Settings":
        """Settings for fast tests: a throwaway home, the hashing embedder, no default corpus, no LLM."""
        values: dict = {
            "home": home,
            "embedding": {"backend": "hashing"},
            "corpus": {"auto_index": False},
            "llm": {"base_url": "", "api_key": ""},
            "chroma": {"check_on_open": False},  # a child process per store opened would double the suite's time
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return cls(**values)


def environment_names() -> list[str]:
    """Every ``RAG_*`` variable that sets something: ``RAG_<FIELD>``, ``RAG_<SECTION>`` and ``RAG_<SECTION>_<FIELD>``."""
    names = []
    for name, field in Settings.model_fields.items():
        names.append(f"RAG_{name.upper()}")
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names += [f"RAG_{name.upper()}_{sub.upper()}" for sub in section.model_fields]
    return names


_warned: set[str] = set()


def warn_unknown_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Warn once about each ``RAG_*`` variable that names no setting, with the closest that does."""
    environ = os.environ if environ is None else environ
    known = set(environment_names())
    unknown = [name for name in environ if name.upper().startswith("RAG_") and name.upper() not in known]
    for name in unknown:
        if name in _warned:
            continue
        _warned.add(name)
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else " (README, Configuration, lists the settings)."
        warnings.warn(f"{name} names no setting and is ignored{hint}", UserWarning, stacklevel=3)
    return unknown
