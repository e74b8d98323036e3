"""The forward pass: mean NLL of target spans, computed only at the scored positions.

Sequences are sorted by length and packed into micro-batches under a token budget (padded tokens).
Only the hidden states that predict a scored token go through the LM head, in chunks, so the
``[batch, seq, vocab]`` logits tensor is never built (Gemma's vocabulary has 262k entries).
Log-softmax is always computed in fp32. Sequences are right-padded and no padding mask is passed: under
causal attention a real token only ever attends to the real tokens before it, so its computation is the
same as unpadded (tested), and attention can take the faster pure-causal kernel.

Out of memory on a micro-batch halves it and retries, down to one sequence; a single sequence that still
does not fit is reported as OOM, and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

LOGIT_CHUNK = 512  # scored positions per LM-head chunk
PAD_MULTIPLE = 32  # widths are rounded up to this: few distinct shapes, so CPU/GPU kernels are reused


class SequenceFailed(Exception):
    """One sequence could not be scored (status given in ``status``)."""

    def __init__(self, status: str, cause: BaseException):
        super().__init__(f"{status}: {cause!r}")
        self.status = status


def is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def padded_width(length: int) -> int:
    """``length`` rounded up to a multiple of ``PAD_MULTIPLE`` (the width a micro-batch is padded to)."""
    return -(-length // PAD_MULTIPLE) * PAD_MULTIPLE


def micro_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Indices grouped longest-first so that ``len(group) * padded_longest <= token_budget`` (at least one each)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = padded_width(lengths[current[0] if current else i])
        if current and (len(current) + 1) * longest > token_budget:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


class SpanScorer:
    """Computes per-span mean NLLs for token sequences with one causal LM."""

    def __init__(self, model, *, token_budget: int = 8192):
        self.model = model
        self.token_budget = token_budget
        self.decoder = getattr(model, model.base_model_prefix)
        self.lm_head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.forward_hook: Callable | None = None  # tests use it to inject failures

    @property
    def input_device(self):
        return self.decoder.get_input_embeddings().weight.device

    def run(self, sequences: list[list[int]], spans: list[list[tuple[int, int]]]):
        """Return (nlls, statuses): nlls[i][k] is the mean NLL of span k of sequence i (NaN on failure)."""
        out = [[float("nan")] * len(s) for s in spans]
        status: list[str | None] = [None] * len(sequences)
        lengths = [len(s) for s in sequences]
        for group in micro_batches(lengths, self.token_budget):
            self._run_group(group, sequences, spans, out, status)
        return out, status

    def _run_group(self, group, sequences, spans, out, status):
        try:
            result = self._forward([sequences[i] for i in group], [spans[i] for i in group])
        except Exception as exc:  # noqa: BLE001 - OOM and per-row failures are data, not crashes
            oom = is_oom(exc)
            if oom:
                self._free_cache()
            if len(group) == 1:
                status[group[0]] = "oom" if oom else "error"
                logger.warning("A sequence of %d tokens could not be scored (%s): %r",
                               len(sequences[group[0]]), status[group[0]], exc)
                return
            half = len(group) // 2 if oom else 1  # non-OOM failures: isolate the bad row
            for part in ([group[:half], group[half:]] if oom else [[i] for i in group]):
                self._run_group(part, sequences, spans, out, status)
            return
        for i, vals in zip(group, result):
            out[i] = vals

    def _free_cache(self):
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _forward(self, seqs: list[list[int]], spans: list[list[tuple[int, int]]]) -> list[list[float]]:
        import torch

        if self.forward_hook is not None:
            self.forward_hook(seqs)
        device = self.input_device
        width = padded_width(max(len(s) for s in seqs))
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        rows, pos, seg = [], [], []
        seg_id = 0
        for b, (s, sp) in enumerate(zip(seqs, spans)):
            ids[b, : len(s)] = torch.tensor(s, dtype=torch.long)
            for start, end in sp:
                rows.extend([b] * (end - start))
                pos.extend(range(start - 1, end - 1))  # hidden state at t-1 predicts token t
                seg.extend([seg_id] * (end - start))
                seg_id += 1
        with torch.inference_mode():
            hidden = self.decoder(input_ids=ids.to(device)).last_hidden_state  # right padding: causal mask suffices
            r = torch.tensor(rows, dtype=torch.long, device=hidden.device)
            p = torch.tensor(pos, dtype=torch.long, device=hidden.device)
            h = hidden[r, p]
            targets = ids.to(hidden.device)[r, p + 1]
            del hidden
            nll = torch.empty(len(rows), dtype=torch.float32, device=h.device)
            for c in range(0, len(rows), LOGIT_CHUNK):
                hc = h[c : c + LOGIT_CHUNK].to(self.lm_head.weight.device)
                logits = self.lm_head(hc).float()
                if self.softcap is not None:
                    logits = torch.tanh(logits / self.softcap) * self.softcap
                logp = torch.log_softmax(logits, dim=-1)
                tc = targets[c : c + LOGIT_CHUNK].to(logp.device)
                nll[c : c + LOGIT_CHUNK] = -logp.gather(1, tc[:, None])[:, 0].to(nll.device)
        nll64 = nll.cpu().double().numpy()
        seg_arr = np.asarray(seg, dtype=np.int64)
        sums = np.bincount(seg_arr, weights=nll64, minlength=seg_id)
        counts = np.bincount(seg_arr, minlength=seg_id)
        means = sums / np.maximum(counts, 1)
        means[counts == 0] = np.nan
        result, k = [], 0
        for sp in spans:
            result.append([float(means[k + j]) for j in range(len(sp))])
            k += len(sp)
        return result
