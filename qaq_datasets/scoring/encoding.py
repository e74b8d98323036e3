"""Encoding a (question, answer) pair into the two token id sequences and the spans scored.

Segments are tokenised separately and their ids concatenated, so NLL(Q) and NLL(Q|A) are over the very
same Q ids (and NLL(A), NLL(A|Q) over the same A ids): no guessing where a boundary token fell.

Truncation policy (one policy, the same budget in both passes): with ``budget = max_length - overhead``
(the longer of the two passes' template tokens), a pair whose Q and A together exceed the budget keeps
the head of Q, up to ``max(budget // 2, budget - len(A))`` tokens, and the head of A in what is left.
Both passes use the same truncated ids; the row is scored and its status is ``truncated``.

The forward pass ends with the first token that closes the answer (the chat template's end of turn, or
EOS): its NLL, ``nll_end``, says whether the answer is complete (a cut-off answer makes it unlikely).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .templates import Template


@dataclass(frozen=True)
class EncodedPair:
    """The two sequences fed to the model and the half-open target spans scored in each."""

    forward_ids: list[int]  # template + Q + sep + A + end-of-answer token
    reverse_ids: list[int]  # template + A + sep + Q
    spans: dict  # q, a_given_q, a_end index forward_ids; a, q_given_a index reverse_ids
    truncated: bool

    def as_dict(self) -> dict:
        return {"forward_ids": self.forward_ids, "reverse_ids": self.reverse_ids,
                "spans": dict(self.spans), "truncated": self.truncated}


class PairEncoder:
    """Turns token ids of Q and A into an :class:`EncodedPair` under a template and a length budget."""

    def __init__(self, tokenizer, template: Template, max_length: int):
        self.tokenizer = tokenizer
        self.template = template
        start = self._start_ids() if template.add_bos else []
        self.q_prefix = start + self.ids(template.q_prefix)
        self.a_prefix = start + self.ids(template.a_prefix)
        # every scored token needs a predecessor: an empty prefix gets a document-start token
        if not self.q_prefix:
            self.q_prefix = self._start_ids()
        if not self.a_prefix:
            self.a_prefix = self._start_ids()
        self.qa_sep = self.ids(template.qa_sep)
        self.aq_sep = self.ids(template.aq_sep)
        end = self.ids(template.a_end)[:1] if template.a_end else []
        if not end and tokenizer.eos_token_id is not None:
            end = [int(tokenizer.eos_token_id)]
        self.a_end = end  # may be empty: then nll_end is NaN
        overhead = max(len(self.q_prefix) + len(self.qa_sep) + len(self.a_end), len(self.a_prefix) + len(self.aq_sep))
        self.budget = max_length - overhead
        if self.budget < 2:
            raise ConfigError(
                f"max_length={max_length} leaves no room for Q and A: the template alone takes {overhead} tokens."
            )

    def _start_ids(self) -> list[int]:
        tok = self.tokenizer
        for tid in (tok.bos_token_id, tok.eos_token_id):
            if tid is not None:
                return [int(tid)]
        raise ConfigError("The tokenizer has neither a BOS nor an EOS token; use a template with a non-empty prefix.")

    def ids(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def ids_batch(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [list(x) for x in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def pair(self, q: list[int], a: list[int]) -> EncodedPair:
        truncated = len(q) + len(a) > self.budget
        if truncated:
            q = q[: min(len(q), max(self.budget // 2, self.budget - len(a)))]
            a = a[: self.budget - len(q)]
        fq0 = len(self.q_prefix)
        fa0 = fq0 + len(q) + len(self.qa_sep)
        ra0 = len(self.a_prefix)
        rq0 = ra0 + len(a) + len(self.aq_sep)
        fe0 = fa0 + len(a)
        return EncodedPair(
            forward_ids=self.q_prefix + q + self.qa_sep + a + self.a_end,
            reverse_ids=self.a_prefix + a + self.aq_sep + q,
            spans={"q": (fq0, fq0 + len(q)), "a_given_q": (fa0, fe0), "a_end": (fe0, fe0 + len(self.a_end)),
                   "a": (ra0, ra0 + len(a)), "q_given_a": (rq0, rq0 + len(q))},
            truncated=truncated,
        )
