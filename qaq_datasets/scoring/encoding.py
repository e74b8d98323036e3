"""Encoding a (question, answer) pair into the two token id sequences and the spans scored.

Segments are tokenised separately and their ids concatenated, so NLL(Q) and NLL(Q|A) are over the very
same Q ids (and NLL(A), NLL(A|Q) over the same A ids): no guessing where a boundary token fell. The rows'
text is data: it is tokenised with special tokens parsed as plain text (``split_special_tokens``), so an
answer holding ``<|im_end|>`` cannot close its turn; only the template's own text yields control tokens.

Truncation policy (one policy, the same budget in both passes): with ``budget = max_length - overhead``
(the longer of the two passes' template tokens), a pair whose Q and A together exceed the budget keeps
the head of Q, up to ``max(budget // 2, budget - len(A))`` tokens, and the head of A in what is left.
Both passes use the same truncated ids; the row is scored and its status is ``truncated``.

The forward pass ends with the first token that closes the answer (the chat template's end of turn, or
EOS): its NLL, ``nll_end``, says whether the answer is complete (a cut-off answer makes it unlikely).
"""

from __future__ import annotations

from ..errors import ConfigError
from .templates import SYSTEM, Template


def data_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of data texts, with special tokens parsed as plain text."""
    return [list(x) for x in tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]]


class PairEncoder:
    """Turns token ids of Q's parts and of A into the two sequences scored, under a template and a length budget."""

    def __init__(self, tokenizer, template: Template, max_length: int):
        self.tokenizer = tokenizer
        self.template = template
        start = self._start_ids() if template.add_bos else []
        # every scored token needs a predecessor: an empty prefix gets a document-start token
        self.q_prefix = start + self.ids(template.q_prefix) or self._start_ids()
        self.a_prefix = start + self.ids(template.a_prefix) or self._start_ids()
        self.qa_sep, self.aq_sep = self.between(template.qa_sep), self.between(template.aq_sep)
        self.au_sep = self.aq_sep if template.au_sep is None else self.between(template.au_sep)
        eos = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
        self.a_end = self.ids(template.a_end)[:1] or eos  # may be empty: then nll_end is NaN
        overhead = max(len(self.q_prefix) + len(self.qa_sep) + len(self.a_end), len(self.a_prefix) + len(self.aq_sep))
        self.budget = max_length - overhead
        if self.budget < 2:
            raise ConfigError(f"max_length={max_length} leaves no room for Q and A: the template ({template.name}) "
                              f"alone takes {overhead} tokens.")

    def _start_ids(self) -> list[int]:
        tok = self.tokenizer
        for tid in (tok.bos_token_id, tok.eos_token_id):
            if tid is not None:
                return [int(tid)]
        raise ConfigError("The tokenizer has neither a BOS nor an EOS token; use a template with a non-empty prefix.")

    def ids(self, text: str) -> list[int]:
        """Ids of template text (its special tokens are control tokens); ``{system}`` is tokenised as data."""
        head, slot, tail = text.partition(SYSTEM)
        out = list(self.tokenizer(head, add_special_tokens=False)["input_ids"]) if head else []
        if slot and self.template.system:
            out += data_ids(self.tokenizer, [self.template.system])[0]
        return out + (self.ids(tail) if slot else [])

    def between(self, text: str) -> list[int]:
        """Ids of template text that sits between two data texts, as the tokenizer splits it there: alone,
        ``"\n\n"`` can be one token that the tokenizer never emits before a letter. Falls back to the text alone
        where its neighbours would merge with it."""
        left, right, both = self.ids("a"), self.ids("b"), self.ids(f"a{text}b")
        inner = both[len(left):len(both) - len(right)]
        return inner if text and both[:len(left)] == left and both[len(left) + len(inner):] == right else self.ids(text)

    def question_texts(self, parts: list[str], turns: bool) -> list[str]:
        """The texts tokenised for Q: question columns joined by ``q_sep`` into one text (so Q's ids are what the
        tokenizer gives for the joined question), or a conversation's turns as they are (joined by control
        tokens in :meth:`pair`)."""
        return list(parts) if turns else [self.template.q_sep.join(parts)]

    def pair(self, ids: list[list[int]]) -> dict:
        """The pair from the ids of :meth:`question_texts` and of A (``ids[-1]``): Q is one text, or a
        conversation's earlier turns (user, assistant, user, ...) joined by the user-to-assistant and
        assistant-to-user separators. ``{"forward_ids": template + Q + sep + A + end-of-answer token,
        "reverse_ids": template + A + sep + Q, "spans": {"q", "a_given_q", "a_end"} (in forward_ids) and {"a",
        "q_given_a"} (in reverse_ids), "truncated"}``: spans are half-open target ranges."""
        q, a = list(ids[0]), ids[-1]
        for k, part in enumerate(ids[1:-1]):
            q += (self.au_sep if k % 2 else self.qa_sep) + part
        truncated = len(q) + len(a) > self.budget
        if truncated:
            q = q[: min(len(q), max(self.budget // 2, self.budget - len(a)))]
            a = a[: self.budget - len(q)]
        fq0 = len(self.q_prefix)
        fa0 = fq0 + len(q) + len(self.qa_sep)
        ra0 = len(self.a_prefix)
        rq0 = ra0 + len(a) + len(self.aq_sep)
        fe0 = fa0 + len(a)
        return {"forward_ids": self.q_prefix + q + self.qa_sep + a + self.a_end,
                "reverse_ids": self.a_prefix + a + self.aq_sep + q,
                "spans": {"q": (fq0, fq0 + len(q)), "a_given_q": (fa0, fe0), "a_end": (fe0, fe0 + len(self.a_end)),
                          "a": (ra0, ra0 + len(a)), "q_given_a": (rq0, rq0 + len(q))},
                "truncated": truncated}
