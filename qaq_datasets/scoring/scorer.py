"""The ``Scorer``: a ``Dataset.map`` function that adds the QAQ score columns; ``MultiScorer``, the one way several
scorers run (``qaq.score``, ``qaq score``, the runners and Ray map it)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any

from .. import _version
from ..errors import INT_MAX, ColumnError, ConfigError, ConfigTypeError, check_int
from ..models import QAQModel, load_model, load_part, resolve_dtype, resolve_spec
from . import schema as st
from .encoding import PairEncoder, data_ids
from .schema import ScoreColumns, count_statuses
from .data_shapes import check_shape_columns, column_args, parse_batch, resolve_columns, row_or_batch
from .templates import Template, resolve_template, template_arg

logger = logging.getLogger(__name__)

_LOADED: dict[tuple, Any] = {}  # one model per (spec, dtype, device) per process
_FORKED = []  # non-empty in a process forked from this one (a map worker under the fork start method)


def _after_fork_in_child() -> None:
    # A forked map worker loads its own model (not the parent's copy), and runs torch on one thread: the parent's
    # OpenMP threads do not exist in the child, so a parallel region there would wait on them forever.
    _LOADED.clear()
    _FORKED.append(True)


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class ScorerConfig:
    """Everything that defines a scorer, validated and resolved once; nothing is loaded.

    ``model`` is the resolved spec (None for a model object passed in); ``question``/``answer`` or ``messages``
    name the columns (those not given are found from the data's column names, see :func:`detect_columns`).
    """

    model: Any
    dtype: str
    question: tuple[str, ...] | None = None
    answer: str | None = None
    messages: str | None = None
    prefix: str = "qaq_"
    template: Any = "standard"
    max_length: int = 2048
    token_budget: int = 8192
    device_map: Any = "auto"


class Scorer:
    """Adds QAQ scores to rows: two forward passes per row give all four NLLs. Built by :func:`score_fn`."""

    def __init__(self, config: ScorerConfig, loaded=None):
        self.config, self.prefix, self._qaq_model = config, config.prefix, loaded
        self.score_columns = ScoreColumns(config.prefix)
        self.from_loaded = loaded is not None  # a model object passed in (a worker process re-loads it by spec)
        self.columns: dict | None = None  # the columns scored, once given or found (see check)
        # (template, several Q parts) -> Template: built-in names are resolved once (chat templates render slowly)
        self._template = functools.cache(lambda t, several: resolve_template(t, self.tokenizer, 1 + several))
        self._pair_encoder = functools.lru_cache(256)(lambda t: PairEncoder(self.tokenizer, t, config.max_length))

    # -- identity ---------------------------------------------------------------------------------
    @cached_property
    def model_identity(self) -> dict:
        """The model's identity (a Hub model pinned to its commit: this may ask the Hub, once)."""
        if self._qaq_model is not None:
            return self._qaq_model.identity()
        return {**self.config.model.pinned().as_dict(), "dtype": self.config.dtype}

    def _identity(self) -> dict:
        c, t = self.config, self.config.template
        if isinstance(t, Template):
            t = asdict(t)
        elif callable(t):
            from datasets.fingerprint import Hasher

            t = {"callable": getattr(t, "__qualname__", type(t).__name__), "hash": Hasher.hash(t)}
        return {"library_version": _version.__version__, "model": self.model_identity, "template": t,
                "question": list(c.question) if c.question else None, "answer": c.answer, "messages": c.messages,
                "prefix": c.prefix, "max_length": c.max_length}

    @cached_property
    def fingerprint(self) -> str:
        """A digest of everything that changes a score (model files, template, columns, config, library version)."""
        return hashlib.sha256(json.dumps(self._identity(), sort_keys=True, default=str).encode()).hexdigest()[:32]

    def recipe(self) -> dict:
        """Everything needed to reproduce these scores (JSON-serialisable), incl. the fingerprint."""
        return {**self._identity(), **(self.columns or {}), "fingerprint": self.fingerprint}

    clash = "score column {!r}; drop the old scores or use another prefix"  # MultiScorer's error on a column there

    def features(self):
        """The ``datasets.Features`` of the score columns."""
        return self.score_columns.features()

    def __reduce__(self):
        # Pickles to the config (a few KB) and the fingerprint: `datasets` hashes it fast and identically in every
        # process, and map workers (num_proc > 1) rebuild the scorer and load the model once each.
        return (_rebuild, (self.config, self.fingerprint, self.from_loaded))

    def __repr__(self) -> str:
        m = self.config.model
        return f"Scorer(model={m.spec if m else 'object'!r}, prefix={self.prefix!r})"

    # -- contracts --------------------------------------------------------------------------------
    def check(self, dataset=None) -> None:
        """Every check that can run before the model loads: the columns (found from the column names when none
        were given), their types and that ``max_length`` fits the model's context (from its config alone); then, from
        the tokenizer alone, that ``max_length`` leaves room for Q and A."""
        if getattr(dataset, "column_names", None) is not None:  # a streaming dataset may not know them yet
            self._resolve_columns(dataset.column_names, dataset.features)
        if not callable(self.config.template):
            for n_parts in (1, 2):  # alpaca has a preamble for each
                self._encoder({}, n_parts, None)

    def _resolve_columns(self, names, features=None) -> dict:
        c = self.config
        if self.columns is None:  # the columns given, else the shape found from the column names
            self.columns = resolve_columns(names, c.question, c.answer, c.messages)
        columns = check_shape_columns(self.columns, names, features)
        if (limit := self.positions) and c.max_length > limit:  # past its context a model scores noise
            raise ConfigError(f"max_length {c.max_length} is more than the model's context of {limit} tokens (its "
                              f"max_position_embeddings): give max_length <= {limit}.")
        return columns

    # -- model ------------------------------------------------------------------------------------
    @cached_property
    def tokenizer(self):
        """The model's tokenizer; loaded alone, without the weights, for a spec scorer whose model is not loaded."""
        return self._qaq_model.tokenizer if self._qaq_model is not None else load_part(self.config.model)

    @cached_property
    def positions(self) -> int | None:
        """The model's context in tokens (its config's ``max_position_embeddings``), read without the weights."""
        loaded, spec = self._qaq_model, self.config.model
        if loaded is None and spec is None:  # a worker's copy of a model object: _ensure_model says why it cannot load
            return None
        config = loaded.model.config if loaded else load_part(spec, "AutoConfig")
        return getattr(config.get_text_config(), "max_position_embeddings", None)

    def _ensure_model(self, rank: int | None = None):
        """The loaded model (loaded once per process, on the GPU of ``rank`` where ``map`` passes one)."""
        if self._qaq_model is None:
            import torch

            if _FORKED:
                torch.set_num_threads(1)  # see _after_fork_in_child
            c, device_map = self.config, self.config.device_map
            if c.model is None:
                raise ConfigError("This scorer was built from a model object without a spec (or changed since "
                                  "qaq.load_model), so a worker process (map with num_proc > 1) cannot load it. Pass "
                                  "the spec string to score_fn, or save the model and pass its folder.")
            if rank is not None and device_map != "cpu" and torch.cuda.is_available():
                device_map = f"cuda:{rank % torch.cuda.device_count()}"
            key = (c.model.pinned(), c.dtype, str(device_map))
            if key not in _LOADED:
                _LOADED[key] = load_model(key[0], device_map=device_map, dtype=c.dtype)
            self._qaq_model = _LOADED[key]
        return self._qaq_model

    @cached_property
    def span_scorer(self):
        """The span scorer of the model (loaded on the first use, where ``map`` passes no rank)."""
        from .forward import SpanScorer

        return SpanScorer(self._ensure_model().model, token_budget=self.config.token_budget)

    def _encoder(self, row: dict, n_parts: int, system: str | None) -> PairEncoder:
        """The encoder of a row: the template (a callable's pick for ``row``) with the row's own system turn."""
        t = self.config.template
        if callable(t):
            t = template_arg(t(row))  # a callable that returns a callable fails in resolve_template
        t = self._template(t, n_parts > 1)
        return self._pair_encoder(t if system is None else replace(t, system=system))  # a conversation's own system

    def encode(self, question: str | list[str], answer: str, *, system: str | None = None, turns: bool = False) -> dict:
        """The two id sequences fed to the model for one pair, and the target spans scored.

        ``question`` is Q's text, or its parts (question columns, or a conversation's earlier turns with
        ``turns=True``). Returns ``{"forward_ids", "reverse_ids", "spans": {"q", "a_given_q", "a_end", "a",
        "q_given_a"}, "truncated"}``; the NLL of a span (s, e) is the mean over t in [s, e) of
        -log p(ids[t] | ids[:t]).
        """
        parts = [question] if isinstance(question, str) else list(question)
        enc = self._encoder({}, len(parts), system)
        return enc.pair(data_ids(self.tokenizer, [*enc.question_texts(parts, turns), answer]))

    # -- scoring ----------------------------------------------------------------------------------
    def __call__(self, batch: dict, rank: int | None = None) -> dict:
        """``ds.map(scorer)`` (one row) or ``ds.map(scorer, batched=True)``: told apart by the values' shape (see
        :func:`~qaq_datasets.scoring.data_shapes.is_one_row`); :meth:`score_batch` takes a batch without guessing."""
        return row_or_batch(lambda b: self.score_batch(b, rank), batch, self._resolve_columns(list(batch)))

    def score_batch(self, batch: dict, rank: int | None = None) -> dict:
        """The score columns of a batch (``{column: [cells]}``): what ``qaq.score`` and the runners map."""
        # a row's (system, Q's parts, turns, A), or the status saying why not
        parsed = parse_batch(batch, self._resolve_columns(list(batch)))
        n, c = len(parsed), self.score_columns
        result = {col: [math.nan] * n for col in c.columns}
        result[c.q_tokens], result[c.a_tokens] = [0] * n, [0] * n
        result[c.status] = [p if isinstance(p, str) else None for p in parsed]
        if rows := {i: p for i, p in enumerate(parsed) if not isinstance(p, str)}:
            self._score_rows(batch, rows, result, rank)
        return result

    def _score_rows(self, batch, rows, result, rank):
        self._ensure_model(rank)
        c, status = self.score_columns, result[self.score_columns.status]
        encoded = {}  # row -> (encoder, Q's texts, turns, A)
        for i, (system, parts, turns, a) in rows.items():
            row = {c: v[i] for c, v in batch.items()} if callable(self.config.template) else {}
            try:
                enc = self._encoder(row, len(parts), system)
            except ConfigError as exc:  # the row's own system context leaves no room under max_length
                if system is None:
                    raise
                status[i] = st.CONTEXT_TOO_LONG
                logger.warning("Row %d: %s", i, exc)
                continue
            encoded[i] = (enc, enc.question_texts(parts, turns), turns, a)
        texts = [t for enc, parts, turns, a in encoded.values() for t in (*parts, a)]
        try:
            ids = data_ids(self.tokenizer, texts)
        except Exception:  # noqa: BLE001 - a text the fast batch path rejects: find it row by row
            ids = []
            for t in texts:
                try:
                    ids.append(data_ids(self.tokenizer, [t])[0])
                except Exception as exc:  # noqa: BLE001
                    logger.warning("The tokenizer failed on a text: %r", exc)
                    ids.append(None)
        pairs, seqs, spans, k = {}, [], [], 0
        for i, (enc, parts, turns, a) in encoded.items():
            row_ids, k = ids[k : k + len(parts) + 1], k + len(parts) + 1
            if None in row_ids or not any(row_ids[:-1]) or not row_ids[-1]:
                status[i] = st.ERROR if None in row_ids else st.NO_TOKENS  # the tokenizer failed, or gave no tokens
                continue
            p = enc.pair(row_ids)
            pairs[i] = (p, len(seqs))
            sp = p["spans"]
            seqs += [p["forward_ids"], p["reverse_ids"]]
            spans += [[sp["q"], sp["a_given_q"], sp["a_end"]], [sp["a"], sp["q_given_a"]]]
        nlls, fails = self.span_scorer.run(seqs, spans)  # ([], [] when no row got this far)
        for i, (p, k) in pairs.items():
            status[i] = fails[k] or fails[k + 1] or (st.TRUNCATED if p["truncated"] else st.OK)
            if status[i] not in st.OK_STATUSES:
                continue
            (nq, naq, nend), (na, nqa) = nlls[k], nlls[k + 1]
            (q0, q1), (a0, a1) = p["spans"]["q"], p["spans"]["a"]
            end = math.nan if p["truncated"] else nend  # a cut answer has no real end
            for col, value in zip(c.columns, (nq, nqa, na, naq, nq - nqa, math.exp(naq - na), end, q1 - q0, a1 - a0)):
                result[col][i] = value  # in the order of schema.FIELDS


def _rebuild(config: ScorerConfig, fingerprint: str, from_loaded: bool) -> Scorer:
    if from_loaded:
        warnings.warn("A scorer holding a loaded model was sent to another process (e.g. map(num_proc>1)): each "
                      "worker re-loads the model from its spec. Pass the spec string to score_fn to make this "
                      "explicit.", stacklevel=2)
    sc = Scorer(config)
    sc.__dict__["fingerprint"] = fingerprint
    return sc


def score_fn(model, *, tokenizer=None, question=None, answer=None, messages: str | None = None, prefix: str = "qaq_",
             template="standard", max_length: int = 2048, token_budget: int = 8192, device_map: Any = "auto",
             dtype: Any = None, revision: str | None = None) -> Scorer:
    """A scoring function for ``Dataset.map``: ``ds.map(qaq.score_fn(model))`` (``batched=True`` is faster).

    ``model`` is a :func:`qaq_datasets.load_model` result, a ``transformers`` model (with ``tokenizer=``), or a
    model spec string (alias, ``.gguf`` file, folder or Hub id), loaded lazily once per process. Nothing loads
    here; bad arguments fail here. The scorer tells a row from a batch by the values' shape; on a conversation
    column of mixed cells (some not lists), map ``scorer.score_batch`` with ``batched=True`` (as ``qaq.score`` does).

    Keyword arguments: ``question`` (a column or several, joined by the template's ``q_sep``) and ``answer``, or
    ``messages`` (a column of conversations); none of them: the shape is found from the column names (see
    :func:`detect_columns`). ``prefix`` (``qaq_``), ``template`` (``standard``, ``paper``, ``alpaca``, ``raw``, a
    :class:`Template` or a callable ``row -> Template``), ``max_length`` (2048 tokens per pass), ``token_budget``
    (tokens per micro-batch), ``device_map``, ``dtype`` (default: bf16 where fast, else fp32), ``revision``.

    Input columns:
        text question/answer columns, TRL's ``prompt``/``completion`` (strings or lists of turns), or a
        ``messages`` column of ``{role, content}`` turns (see ``qaq_datasets.scoring.data_shapes``).

    Output columns (``{p}`` = ``prefix``):
        ``{p}nll_q``, ``{p}nll_q_given_a``, ``{p}nll_a``, ``{p}nll_a_given_q`` (mean NLL in nats per token),
        ``{p}rmi`` = nll_q - nll_q_given_a, ``{p}ifd`` = exp(nll_a_given_q - nll_a), ``{p}nll_end`` (NLL of the
        token closing the answer; NaN when we truncated A), ``{p}q_tokens``, ``{p}a_tokens`` and ``{p}status``
        (``ok``, ``truncated``, or why the scores are NaN). Other columns pass through.

    Examples:
        >>> import qaq_datasets as qaq
        >>> scored = ds.map(qaq.score_fn("smollm2-135m"), batched=True)  # doctest: +SKIP
        >>> scored = chats.map(qaq.score_fn("smollm2-135m", template="paper"), batched=True)  # doctest: +SKIP
    """
    question, answer, messages = column_args(question, answer, messages)
    max_length = check_int(max_length, "max_length", 4, INT_MAX)
    token_budget = check_int(token_budget, "token_budget", 1, INT_MAX)
    st.check_prefix(prefix)
    template = template_arg(template)
    if tokenizer is not None and (isinstance(model, QAQModel) or not hasattr(model, "config")):
        raise ConfigError("tokenizer= goes with a transformers model object; a model spec or a qaq.load_model() "
                          "result brings its own tokenizer.")
    if hasattr(model, "config") and not isinstance(model, QAQModel):  # a transformers model passed in
        if not callable(tokenizer) or not hasattr(tokenizer, "eos_token_id"):
            raise ConfigTypeError(f"tokenizer must be the model's transformers tokenizer (AutoTokenizer.from_pretrained"
                                  f"(...)), got {type(tokenizer).__name__}; or load the model with qaq.load_model().")
        model = QAQModel(model.eval(), tokenizer, None, str(next(model.parameters()).dtype).removeprefix("torch."))
    if isinstance(model, QAQModel):  # changed since loaded (an "object" identity): no spec to re-load
        src = model.source if model.source is not None and model.identity()["kind"] != "object" else None
        loaded, dtype = model, model.dtype
    else:  # a model spec (resolve_spec refuses anything else)
        loaded, src, dtype = None, resolve_spec(model, revision=revision), resolve_dtype(dtype, device_map)
    return Scorer(ScorerConfig(src, dtype, question, answer, messages, prefix, template,
                               max_length, token_budget, device_map), loaded)


class MultiScorer:
    """Several scorers as one ``Dataset.map`` function: the one way qaq scores with several models (``qaq.score``,
    ``qaq score``, the sharded runner and the Ray actors map it), each batch scored by every scorer in turn.

    ``scorers`` is a Scorer, a list of them or ``{name: Scorer}`` (a list's names come from the prefixes); one of
    them may be the text checks (:func:`~qaq_datasets.check_fn`), whose columns are then written with the scores.
    Every check runs here, before any model loads: distinct prefixes and, with ``dataset``, each scorer's columns
    and no score or check column already there. ``device_index`` places the models (a rank's GPU) when ``map``
    passes no rank.

    Input columns:
        every scorer's question and answer columns.

    Output columns:
        every scorer's ``{prefix}*`` score columns, and the ``check_*`` columns of the text checks given.
    """

    def __init__(self, scorers, dataset=None, device_index: int | None = None):
        from ..checks import CheckFn

        many = [scorers] if isinstance(scorers, Scorer) else scorers if isinstance(scorers, (list, tuple)) else []
        items = list(scorers.items()) if isinstance(scorers, Mapping) else [  # a list: named by the prefixes
            (ScoreColumns(s.prefix).name if isinstance(s, Scorer) else "checks", s) for s in many]
        checks = [(name, s) for name, s in items if isinstance(s, CheckFn)]
        items = [(name, s) for name, s in items if not isinstance(s, CheckFn)]
        if len(checks) > 1:
            raise ConfigError("Give the text checks once: one check_fn(...) holds every check.")
        if not items or not all(isinstance(s, Scorer) for _, s in items):
            raise ConfigTypeError(f"scorers must be qaq Scorers (qaq.score_fn(...)): one, a list or a mapping of them, "
                                  f"got {type(scorers).__name__}.")
        prefixes = [s.prefix for _, s in items]
        if len(set(prefixes)) != len(prefixes):
            raise ConfigError(f"Scorers must have distinct prefixes, got {prefixes}; e.g. score_fn(..., "
                              "prefix='strong_').")
        self.scorers, self.checks, self.device_index = dict(items), dict(checks), device_index  # checks: at most one
        for part in self.parts().values() if dataset is not None else ():
            part.check(dataset)
            if clash := [c for c in part.features() if c in dataset.column_names]:
                raise ColumnError(f"The dataset already has {part.clash.format(clash[0])}.", column=clash[0])

    def __call__(self, batch: dict, rank: int | None = None) -> dict:
        rank = self.device_index if rank is None else rank
        return {col: cells for p in self.parts().values() for col, cells in p.score_batch(batch, rank).items()}

    def parts(self) -> dict:
        """``{name: Scorer or CheckFn}``: what this was built from (a runner builds its workers' copies from it)."""
        return {**self.scorers, **self.checks}

    def features(self, dataset):
        """The features of ``dataset`` followed by every scorer's score columns (and the check columns)."""
        from datasets import Features

        return Features({**dataset.features, **{c: f for p in self.parts().values() for c, f in p.features().items()}})

    def map(self, dataset, *, batch_size: int = 64, num_proc: int | None = None, desc: str | None = None,
            **map_kwargs):
        """``dataset.map(self, batched=True)`` with the score features declared (cached and resumable like any
        ``map``); ``num_proc > 1``: one model copy per worker process, placed by its rank."""
        kwargs = dict(batched=True, batch_size=batch_size, features=self.features(dataset),
                      desc=desc or f"QAQ scoring ({', '.join(self.scorers)})")
        if num_proc and num_proc > 1:
            kwargs.update(num_proc=num_proc, with_rank=True)
        return dataset.map(self, **{**kwargs, **map_kwargs})

    def metadata(self, source=None) -> dict:
        """The ``qaq:`` block of the scored rows: each scorer's recipe, and the ``source`` read (a path or Hub id)."""
        return {"scorers": {name: s.recipe() for name, s in self.scorers.items()},
                **{"checks": fn.recipe() for fn in self.checks.values()},
                **({} if source is None else {"source": os.fspath(source)})}

    def stats(self, scored) -> dict:
        """``{name: {"status": {status: rows}, "tokens": tokens fed to the model in both passes}}`` of scored rows."""
        import pyarrow.compute as pc

        cs = [s.score_columns for s in self.scorers.values()]
        table = scored.select_columns([col for c in cs for col in (c.status, c.q_tokens, c.a_tokens)]).with_format(
            "arrow")[:]  # one read, as Arrow
        return {name: {"status": count_statuses(table[c.status].to_pylist()),
                       "tokens": 2 * sum(pc.sum(table[col]).as_py() or 0 for col in (c.q_tokens, c.a_tokens))}
                for name, c in zip(self.scorers, cs)}

    def summary(self, scored, out, seconds: float | None = None) -> str:
        """One line: the rows scored, each scorer's statuses, the speed (given ``seconds``) and the folder written."""
        stats = self.stats(scored)
        statuses = "; ".join(f"{name}: {s['status']}" for name, s in stats.items())
        tokens = sum(s["tokens"] for s in stats.values())
        speed = f" in {seconds:.1f} s ({tokens / seconds:.0f} tokens/s)" if seconds else ""
        return f"{len(scored)} rows scored ({statuses}){speed}; wrote {out}"


def score(dataset, model: Any, *, batch_size: int = 64, num_proc: int | None = None, desc: str | None = None,
          map_kwargs: dict | None = None, **scorer_kwargs):
    """Score ``dataset`` with one model (a spec, a loaded model or a :class:`Scorer`) or several: a mapping
    ``{name: spec | Scorer}`` (prefix ``{name}_`` for specs). Every check runs before any model loads; then one
    ``dataset.map`` of a :class:`MultiScorer` (``batched=True``), with the score features declared (cached and
    resumable like any ``map``).

    Input columns:
        each scorer's columns (see :func:`score_fn`).

    Output columns:
        every input column, plus each scorer's ``{prefix}*`` score columns.

    Examples:
        >>> scored = qaq.score(ds, {"strong": "gemma3-270m", "weak": "smollm2-135m"})  # doctest: +SKIP
    """
    from datasets import Dataset, IterableDataset

    if not isinstance(dataset, (Dataset, IterableDataset)):
        raise ConfigTypeError(f"qaq.score scores a datasets.Dataset (one split), got {type(dataset).__name__}: build "
                              "one with Dataset.from_list(rows), or pick a split of a DatasetDict (ds['train']).")
    if isinstance(model, Mapping):
        model = {name: m if isinstance(m, Scorer) else score_fn(m, prefix=ScoreColumns.named(name).prefix,
                                                                 **scorer_kwargs) for name, m in model.items()}
    elif not isinstance(model, Scorer):
        model = score_fn(model, **scorer_kwargs)
    return MultiScorer(model, dataset).map(dataset, **{"batch_size": batch_size, "num_proc": num_proc, "desc": desc,
                                                       **(map_kwargs or {})})
