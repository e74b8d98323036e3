"""Row statuses written to ``{prefix}status``. Anything but OK/TRUNCATED means NaN scores."""

OK = "ok"
TRUNCATED = "truncated"  # scored, but Q and/or A were cut to fit max_length
EMPTY_QUESTION = "empty_question"
EMPTY_ANSWER = "empty_answer"
NOT_A_STRING = "not_a_string"
NO_TOKENS = "no_tokens"
OOM = "oom"  # a single row did not fit in accelerator memory
ERROR = "error"  # the tokenizer or model raised on this row

SCORED = frozenset({OK, TRUNCATED})
ALL = (OK, TRUNCATED, EMPTY_QUESTION, EMPTY_ANSWER, NOT_A_STRING, NO_TOKENS, OOM, ERROR)


def ordered_counts(counter) -> dict:
    """``{status: count}`` from a ``Counter``, in the order of :data:`ALL`, unknown statuses last."""
    counter = dict(counter)
    out = {k: counter.pop(k) for k in ALL if k in counter}
    out.update(sorted(counter.items(), key=lambda kv: str(kv[0])))
    return out


def count_statuses(statuses) -> dict:
    """How many rows have each status, in canonical order."""
    from collections import Counter

    return ordered_counts(Counter(statuses))
