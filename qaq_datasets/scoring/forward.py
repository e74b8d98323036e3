"""The forward pass: mean NLL of target spans, computed only at the scored positions.

Sequences are grouped into micro-batches under a token budget (padded tokens, see ``batching``).
Only the hidden states that predict a scored token go through the LM head, tile by tile (see
``lm_head``), so the ``[batch, seq, vocab]`` logits tensor is never built (Gemma's vocabulary has 262k
entries); the log-softmax is always computed in fp32. Sequences are right-padded and no padding mask is
passed: under causal attention a real token only ever attends to the real tokens before it, so its
computation is the same as unpadded (tested), and attention can take the faster pure-causal kernel.

The token prefix every sequence of a batch shares (the template's system context, in both passes) can run
once: its keys and values are cached and each micro-batch starts after it. Causal attention makes this
exact up to float rounding (tested against full-sequence logits). It saves the prefix's share of the
compute but makes attention take a masked kernel, so it is skipped when the prefix is a small share of the
tokens (``benchmarks/speed.py --prefix-ab`` measures both; docs/speed.md has the figures).

Token NLLs stay on the device until every micro-batch of the map batch has been launched, and come back to
the host once: a GPU then never idles while Python prepares the next micro-batch (the LM head likewise
avoids host syncs). An asynchronous device error that only surfaces then fails the rows of its
micro-batch (status ``error``), not the run.

Out of memory on a micro-batch halves it and retries, down to one sequence; a single sequence that still
does not fit is reported as OOM, and the run goes on.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
from collections.abc import Callable, Sequence

import numpy as np

from . import schema as st
from .batching import call_cost_for, micro_batches, padded_width
from .lm_head import token_nll

logger = logging.getLogger(__name__)

MIN_SHARED_PREFIX = 4  # shorter shared prefixes are not worth a cache
PREFIX_CACHE_MIN_SHARE = 0.05  # ... nor are prefixes under this share of the tokens fed
MAX_CACHED_PREFIXES = 4


def cached_prefix(sequences: Sequence[Sequence[int]], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[int, ...]:
    """The longest token prefix of all ``sequences`` that ends before the first scored position of any: it runs
    once and is cached.

    The position before a scored token must be fed (its hidden state predicts the token), so the prefix
    stops one short of the earliest span start. Empty when shorter than ``MIN_SHARED_PREFIX``, or when it is
    too small a share of the tokens fed (under ``PREFIX_CACHE_MIN_SHARE``) to pay for the masked attention
    kernel it brings.
    """
    prefix = os.path.commonprefix([list(s) for s in sequences])  # element-wise: any sequences, not only paths
    n = min([len(prefix)] + [start - 1 for sp in spans for start, end in sp if end > start])
    if n < MIN_SHARED_PREFIX or n * len(sequences) < PREFIX_CACHE_MIN_SHARE * sum(len(s) for s in sequences):
        return ()
    return tuple(prefix[:n])


class SpanScorer:
    """Computes per-span mean NLLs for token sequences with one causal LM."""

    def __init__(self, model, *, token_budget: int = 8192):
        self.token_budget = token_budget
        self.decoder = getattr(model, model.base_model_prefix)
        self.lm_head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.forward_hook: Callable | None = None  # tests use it to inject failures
        self._prefixes: dict[tuple[int, ...], object] = {}  # shared token prefix -> its key/value cache
        params = inspect.signature(self.decoder.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5.x

    @property
    def input_device(self):
        return self.decoder.get_input_embeddings().weight.device

    def run(self, sequences: list[list[int]], spans: list[list[tuple[int, int]]]):
        """Return (nlls, statuses): nlls[i][k] is the mean NLL of span k of sequence i (NaN on failure)."""
        out = [[float("nan")] * len(s) for s in spans]
        status: list[str | None] = [None] * len(sequences)
        prefix = cached_prefix(sequences, spans)
        lengths = [len(s) - len(prefix) for s in sequences]
        pending = []  # (group, token NLLs still on the device, span id of each token)
        for group in micro_batches(lengths, self.token_budget, call_cost_for(self.input_device.type)):
            self._run_group(group, sequences, spans, pending, status, prefix)
        # results come back to the host only now, so that a GPU never waits for Python between micro-batches
        for group, nll, seg in pending:
            try:
                means = span_means(nll, seg, [spans[i] for i in group])
            except Exception as exc:  # noqa: BLE001 - an asynchronous device error surfaces here
                logger.warning("A micro-batch of %d sequences failed on the device: %r", len(group), exc)
                for i in group:
                    status[i] = st.ERROR
                continue
            for i, vals in zip(group, means):
                out[i] = vals
        return out, status

    def _run_group(self, group, sequences, spans, pending, status, prefix):
        try:
            nll, seg = self._forward([sequences[i] for i in group], [spans[i] for i in group], prefix)
        except Exception as exc:  # noqa: BLE001 - OOM and per-row failures are data, not crashes
            import torch

            oom = isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()  # CUDA, MPS, XPU alike
            if oom:
                torch.cuda.empty_cache()  # a no-op unless CUDA was initialised
            if len(group) == 1:
                status[group[0]] = st.OOM if oom else st.ERROR
                logger.warning("A sequence of %d tokens could not be scored (%s): %r",
                               len(sequences[group[0]]), status[group[0]], exc)
                return
            # OOM: halve the micro-batch; another failure: isolate the bad row
            for part in ([group[: len(group) // 2], group[len(group) // 2 :]] if oom else [[i] for i in group]):
                self._run_group(part, sequences, spans, pending, status, prefix)
            return
        pending.append((group, nll, seg))

    def _prefix_cache(self, prefix: tuple[int, ...], batch: int):
        """A fresh key/value cache of ``prefix`` for ``batch`` sequences (the prefix itself runs once)."""
        import torch

        if prefix not in self._prefixes:
            if len(self._prefixes) >= MAX_CACHED_PREFIXES:
                self._prefixes.clear()
            with torch.inference_mode():
                ids = torch.tensor([prefix], dtype=torch.long, device=self.input_device)
                out = self.decoder(input_ids=ids, use_cache=True)
                self._prefixes[prefix] = out.cache if hasattr(out, "cache") else out.past_key_values
        cache = copy.deepcopy(self._prefixes[prefix])
        cache.batch_repeat_interleave(batch)
        return cache

    def _forward(self, seqs: list[list[int]], spans: list[list[tuple[int, int]]], prefix: tuple[int, ...] = ()):
        """Token NLLs of every scored position (a device tensor, not synchronised) and each one's span id."""
        import torch

        if self.forward_hook is not None:
            self.forward_hook(seqs)
        skip = len(prefix)  # every sequence starts with ``prefix``; its keys/values come from the cache
        width = padded_width(max(len(s) for s in seqs) - skip)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, : len(s) - skip] = torch.tensor(s[skip:], dtype=torch.long)
        rows, pos, seg = [], [], []  # each scored token's sequence, the position predicting it, and its span id
        for seg_id, (b, start, end) in enumerate((b, *span) for b, sp in enumerate(spans) for span in sp):
            rows += [b] * (end - start)
            pos += range(start - 1 - skip, end - 1 - skip)  # hidden state at t-1 predicts token t
            seg += [seg_id] * (end - start)
        with torch.inference_mode():
            kwargs = {self._cache_kwarg: self._prefix_cache(prefix, len(seqs)), "use_cache": True} if skip else {}
            ids = ids.to(self.input_device)  # once: the decoder's input and the targets
            hidden = self.decoder(input_ids=ids, **kwargs).last_hidden_state  # right padding: causal mask suffices
            del kwargs  # (the prefix's cache)
            r, p = (torch.tensor(x, dtype=torch.long, device=hidden.device) for x in (rows, pos))
            h = hidden[r, p]
            targets = ids.to(hidden.device)[r, p + 1]
            del hidden
            nll = token_nll(self.lm_head, h.to(self.lm_head.weight.device), targets.to(self.lm_head.weight.device),
                            self.softcap)
        return nll, np.asarray(seg, dtype=np.int64)


def span_means(nll, seg: np.ndarray, spans: list[list[tuple[int, int]]]) -> list[list[float]]:
    """Mean NLL per span (NaN for an empty span) from token NLLs and their span ids, in ``spans`` order."""
    sizes = [len(sp) for sp in spans]
    counts = np.bincount(seg, minlength=sum(sizes))
    means = np.bincount(seg, weights=nll.cpu().double().numpy(), minlength=sum(sizes)) / np.maximum(counts, 1)
    means[counts == 0] = np.nan
    return [part.tolist() for part in np.split(means, np.cumsum(sizes)[:-1])]
