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
