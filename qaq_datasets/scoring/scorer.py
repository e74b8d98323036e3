"""The ``Scorer``: a ``Dataset.map``-compatible batched callable that adds the QAQ score columns."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from typing import Any

from .. import _version
from ..errors import ConfigError, ConfigTypeError
from . import schema as st
from .schema import as_column_list, check_columns, score_columns, score_features
from .encoding import PairEncoder
from .templates import check_template_arg, resolve_template

logger = logging.getLogger(__name__)

_LOADED: dict[tuple, Any] = {}  # one model per (recipe, device) per process


def _loaded_model(model_recipe: dict, device_map):
    from ..models import load_model

    key = (json.dumps(model_recipe, sort_keys=True), str(device_map))
    if key not in _LOADED:
        _LOADED[key] = load_model(model_recipe["spec"], device_map=device_map, dtype=model_recipe["dtype"],
                                  revision=model_recipe.get("revision"))
    return _LOADED[key]


class Scorer:
    """Adds QAQ scores to a batch of rows: two forward passes per row give all four NLLs.

    Input columns:
        ``question`` (one column, or several joined with ``question_sep``, e.g. ``["instruction", "input"]``)
        and ``answer``: text.

    Output columns (``{prefix}`` = ``prefix``):
        ``{prefix}nll_q``, ``{prefix}nll_q_given_a``, ``{prefix}nll_a``, ``{prefix}nll_a_given_q`` (mean NLL in
        nats per token), ``{prefix}rmi`` = nll_q - nll_q_given_a, ``{prefix}ifd`` = exp(nll_a_given_q - nll_a),
        ``{prefix}nll_end`` (NLL of the token closing the answer: high for cut-off answers; NaN when we truncated A),
        ``{prefix}q_tokens``, ``{prefix}a_tokens`` (tokens scored) and ``{prefix}status`` (``ok``,
        ``truncated``, or why the scores are NaN). Other columns pass through.

    Examples:
        >>> import qaq_datasets as qaq
        >>> scored = ds.map(qaq.score_fn("smollm2-135m"), batched=True, batch_size=64)  # doctest: +SKIP
    """

    def __init__(self, model=None, *, tokenizer=None, question="instruction", answer="output", prefix="qaq_",
                 template="standard", max_length: int = 2048, token_budget: int = 8192, question_sep: str = "\n\n",
                 device_map: Any = "auto", dtype: Any = None, revision: str | None = None):
        from ..models.loading import QAQModel, as_qaq_model, dtype_name

        self.question = as_column_list(question, "question")
        self.answer = as_column_list(answer, "answer")
        if len(self.answer) != 1:
            raise ConfigError("answer must name exactly one column.")
        self.answer = self.answer[0]
        if not isinstance(prefix, str):
            raise ConfigTypeError(f"prefix must be a string, got {type(prefix).__name__}.")
        if not isinstance(max_length, int) or max_length < 4:
            raise ConfigError(f"max_length must be an int >= 4, got {max_length!r}.")
        if not isinstance(token_budget, int) or token_budget < 1:
            raise ConfigError(f"token_budget must be a positive int, got {token_budget!r}.")
        if not isinstance(question_sep, str):
            raise ConfigTypeError("question_sep must be a string.")
        check_template_arg(template)
        self.prefix, self.template_arg, self.max_length = prefix, template, max_length
        self.token_budget, self.question_sep, self.device_map = token_budget, question_sep, device_map
        self._qaq_model = None
        self._encoder = None
        self._span_scorer = None
        self.from_loaded = model is not None and not isinstance(model, str)
        if isinstance(model, str) or isinstance(model, os.PathLike):
            from ..models import resolve_spec
            from ..models.loading import auto_dtype

            src = resolve_spec(os.fspath(model), revision=revision)  # fails fast on a bad spec, loads nothing
            name = dtype_name(dtype)
            if name is None:
                name = auto_dtype("cuda" if _cuda_available() and device_map != "cpu" else "cpu")
            self.model_recipe = {"spec": src.spec, "name": src.name, "kind": src.kind, "identity": src.identity,
                                 "revision": src.revision, "dtype": name}
        elif model is None:
            raise ConfigError("score_fn needs a model: a loaded qaq.load_model(...) result, a transformers model "
                              "with tokenizer=..., or a model spec string such as 'smollm2-135m'.")
        else:
            if not isinstance(model, QAQModel) and not hasattr(model, "config"):
                raise ConfigTypeError(f"Not a model: {type(model).__name__}.")
            self._qaq_model = as_qaq_model(model, tokenizer)
            self.model_recipe = self._qaq_model.identity()
        self.fingerprint = _digest(self._recipe_core())

    # -- identity ---------------------------------------------------------------------------------
    def _recipe_core(self) -> dict:
        tmpl = self.template_arg.to_dict() if hasattr(self.template_arg, "to_dict") else self.template_arg
        return {"library_version": _version.__version__, "model": self.model_recipe, "template": tmpl,
                "question": self.question, "answer": self.answer, "question_sep": self.question_sep,
                "prefix": self.prefix, "max_length": self.max_length}

    def recipe(self) -> dict:
        """Everything needed to reproduce these scores (JSON-serialisable), incl. the fingerprint."""
        out = self._recipe_core()
        out["fingerprint"] = self.fingerprint
        if self._encoder is not None:
            out["template_resolved"] = self._encoder.template.to_dict()
        return out

    def __reduce__(self):
        # Pickles to the recipe only (a few KB): `datasets` hashes it fast and identically in every process,
        # and map workers (num_proc > 1) rebuild the scorer and load the model once each.
        return (_rebuild, (self._recipe_core(), self.token_budget, self.device_map, self.from_loaded))

    def __repr__(self) -> str:
        return (f"Scorer(model={self.model_recipe.get('spec') or self.model_recipe.get('name')!r}, "
                f"prefix={self.prefix!r}, fingerprint={self.fingerprint[:12]})")

    # -- contracts --------------------------------------------------------------------------------
    @property
    def input_columns(self) -> list[str]:
        return [*self.question, self.answer]

    @property
    def output_columns(self) -> list[str]:
        return score_columns(self.prefix)

    def features(self):
        """``datasets.Features`` of the columns this scorer adds."""
        return score_features(self.prefix)

    def check(self, dataset) -> None:
        """Check the dataset has the input columns, as text, before any model loads."""
        check_columns(dataset.column_names, self.input_columns, getattr(dataset, "features", None))

    # -- model ------------------------------------------------------------------------------------
    def _ensure_model(self, rank: int | None = None):
        if self._qaq_model is None:
            device_map = self.device_map
            if rank is not None and _cuda_available():
                import torch

                device_map = f"cuda:{rank % torch.cuda.device_count()}"
            self._qaq_model = _loaded_model(self.model_recipe, device_map)  # spec scorers only: others hold a model
        if self._encoder is None:
            from .forward import SpanScorer

            tok = self._qaq_model.tokenizer
            self._encoder = PairEncoder(tok, resolve_template(self.template_arg, tok), self.max_length)
            self._span_scorer = SpanScorer(self._qaq_model.model, token_budget=self.token_budget)
        return self._qaq_model

    @property
    def span_scorer(self):
        self._ensure_model()
        return self._span_scorer

    def encode(self, question_text: str, answer_text: str) -> dict:
        """The two id sequences fed to the model for one pair, and the target spans scored.

        Returns ``{"forward_ids", "reverse_ids", "spans": {"q", "a_given_q", "a", "q_given_a"}, "truncated"}``;
        the NLL of a span (s, e) is the mean over t in [s, e) of -log p(ids[t] | ids[:t]).
        """
        self._ensure_model()
        enc = self._encoder
        return enc.pair(enc.ids(question_text), enc.ids(answer_text)).as_dict()

    # -- scoring ----------------------------------------------------------------------------------
    def _question_text(self, batch: dict, i: int):
        parts = []
        for col in self.question:
            v = batch[col][i]
            if v is None:
                continue
            if not isinstance(v, str):
                return None, st.NOT_A_STRING
            if v.strip():
                parts.append(v)
        if not parts:
            return None, st.EMPTY_QUESTION
        return self.question_sep.join(parts), None

    def __call__(self, batch: dict, rank: int | None = None) -> dict:
        missing = [c for c in self.input_columns if c not in batch]
        if missing:
            check_columns(batch.keys(), self.input_columns)
        n = len(batch[self.answer])
        status: list[str | None] = [None] * n
        q_texts, a_texts = {}, {}
        for i in range(n):
            q, bad = self._question_text(batch, i)
            a = batch[self.answer][i]
            if bad is None and (a is not None and not isinstance(a, str)):
                bad = st.NOT_A_STRING
            if bad is None and (a is None or not a.strip()):
                bad = st.EMPTY_ANSWER
            if bad:
                status[i] = bad
            else:
                q_texts[i], a_texts[i] = q, a
        result = {c: [math.nan] * n for c in self.output_columns}
        for c in (self.prefix + "q_tokens", self.prefix + "a_tokens"):
            result[c] = [0] * n
        if q_texts:
            self._score_rows(q_texts, a_texts, status, result, rank)
        result[self.prefix + "status"] = status
        return result

    def _score_rows(self, q_texts, a_texts, status, result, rank):
        self._ensure_model(rank)
        enc = self._encoder
        rows = list(q_texts)
        try:
            q_ids = enc.ids_batch([q_texts[i] for i in rows])
            a_ids = enc.ids_batch([a_texts[i] for i in rows])
        except Exception:  # noqa: BLE001 - a text the fast batch path rejects: find it row by row
            q_ids, a_ids = [], []
            for i in rows:
                try:
                    q_ids.append(enc.ids(q_texts[i]))
                    a_ids.append(enc.ids(a_texts[i]))
                except Exception as exc:  # noqa: BLE001
                    logger.warning("Tokenizer failed on row %d: %r", i, exc)
                    q_ids.append(None)
                    a_ids.append(None)
        pairs, seqs, spans = {}, [], []
        for i, q, a in zip(rows, q_ids, a_ids):
            if q is None:
                status[i] = st.ERROR
            elif not q or not a:
                status[i] = st.NO_TOKENS
            else:
                p = enc.pair(q, a)
                pairs[i] = (p, len(seqs))
                seqs += [p.forward_ids, p.reverse_ids]
                spans += [[p.spans["q"], p.spans["a_given_q"], p.spans["a_end"]], [p.spans["a"], p.spans["q_given_a"]]]
        if not seqs:
            return
        nlls, fails = self._span_scorer.run(seqs, spans)
        px = self.prefix
        for i, (p, k) in pairs.items():
            fail = fails[k] or fails[k + 1]
            if fail:
                status[i] = fail
                continue
            (nq, naq, nend), (na, nqa) = nlls[k], nlls[k + 1]
            result[px + "nll_q"][i], result[px + "nll_a_given_q"][i] = nq, naq
            result[px + "nll_a"][i], result[px + "nll_q_given_a"][i] = na, nqa
            result[px + "rmi"][i] = nq - nqa
            result[px + "ifd"][i] = math.exp(naq - na)
            result[px + "nll_end"][i] = math.nan if p.truncated else nend  # a cut answer has no real end
            result[px + "q_tokens"][i] = p.spans["q"][1] - p.spans["q"][0]
            result[px + "a_tokens"][i] = p.spans["a"][1] - p.spans["a"][0]
            status[i] = st.TRUNCATED if p.truncated else st.OK


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _rebuild(core: dict, token_budget: int, device_map, from_loaded: bool) -> Scorer:
    if from_loaded:
        warnings.warn("A scorer holding a loaded model was sent to another process (e.g. map(num_proc>1)): each "
                      "worker re-loads the model from its spec. Pass the spec string to score_fn to make this explicit.",
                      stacklevel=2)
    model = core["model"]
    if model.get("spec") is None:
        return _NoSpecScorer()
    return Scorer(model["spec"], question=core["question"], answer=core["answer"], prefix=core["prefix"],
                  template=core["template"], max_length=core["max_length"], token_budget=token_budget,
                  question_sep=core["question_sep"], device_map=device_map, dtype=model["dtype"],
                  revision=model.get("revision"))


class _NoSpecScorer:
    """What a worker process gets for a scorer built from a bare model object: it fails on its first batch,
    so ``map(num_proc>1)`` reports this message instead of "a subprocess has abruptly died"."""

    def __call__(self, batch, rank=None):
        raise ConfigError("This scorer was built from a model object without a spec, so a worker process "
                          "(map with num_proc > 1) cannot load it. Load the model with qaq.load_model(spec) or "
                          "pass the spec string to score_fn.")


def score_fn(model, **kwargs) -> Scorer:
    """A batched scoring function for ``Dataset.map``: ``ds.map(qaq.score_fn(model), batched=True)``.

    ``model`` is a :func:`qaq_datasets.load_model` result, a ``transformers`` model (with ``tokenizer=``),
    or a model spec string (alias, ``.gguf`` file, folder or Hub id), loaded lazily once per process.
    Keyword arguments are those of :class:`Scorer`.
    """
    return Scorer(model, **kwargs)
