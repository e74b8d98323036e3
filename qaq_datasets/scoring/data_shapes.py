"""Data shapes: which columns hold Q and A, and one row's cells turned into (system, Q's parts, A).

Shapes (:func:`detect_columns` finds them from the column names when none are given):

- **conversations**: a ``messages`` column of ``{role, content}`` turns, as the Hub and TRL store them. A is the
  last turn, which must be the assistant's; Q is every turn before it, which must alternate user, assistant,
  ..., user; a leading system turn is the system context, in place of the template's default one. The earlier
  turns are joined with the template's own turn separators (the model's chat template for ``standard``), so
  a one-turn conversation scores exactly like the same two texts as question/answer columns.
- **TRL prompt/completion**: strings (named columns), or the conversational form where both are lists of
  turns (scored as the conversation ``prompt + completion``).
- **named columns**: one or several question columns (joined by the template's ``q_sep``) and an answer column:
  instruction (+ input) + output, problem/solution, query/response, question/answer, instruction/response.

Examples:
    >>> detect_columns(["instruction", "input", "output", "id"])
    {'question': ['instruction', 'input'], 'answer': 'output'}
    >>> parse_row([[{"role": "user", "content": "Add 1 and 2."}, {"role": "assistant", "content": "3"}]], None, True)
    (None, ['Add 1 and 2.'], True, '3')
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence

from ..errors import ColumnError, ConfigError, ConfigTypeError
from . import schema as st

logger = logging.getLogger(__name__)

#: the feature dtypes of a text column (``None``: a feature without one, ``null``: only None cells)
_TEXT_DTYPES = (None, "string", "large_string", "null", "json")
#: (question columns, answer column) of the shapes :func:`detect_columns` knows, besides ``messages``
NAMED_SHAPES = ((["prompt"], "completion"), (["instruction", "input"], "output"), (["problem"], "solution"),
                (["query"], "response"), (["question"], "answer"), (["instruction"], "response"))


def detect_columns(features: Iterable[str]) -> dict:
    """The columns to score, found from a dataset's features (or column names), before any model loads.

    Returns ``{"messages": "messages"}`` or ``{"question": [...], "answer": "..."}`` (the keyword arguments of
    :func:`~qaq_datasets.score_fn`). Raises :class:`~qaq_datasets.errors.ColumnError` when no shape fits, or when
    two do (naming both). Logs the choice.

    Examples:
        >>> detect_columns({"prompt": None, "completion": None})
        {'question': ['prompt'], 'answer': 'completion'}
    """
    names = list(features)
    fits = [{"messages": "messages"}] if "messages" in names else []
    for question, answer in NAMED_SHAPES:
        if answer in names and all(c in names or c == "input" for c in question):  # the input is optional
            fits.append({"question": [c for c in question if c in names], "answer": answer})
    if not fits:
        raise ColumnError("No question/answer columns found: name them (question=..., answer=...) or use a known "
                          "shape: messages; prompt + completion; instruction (+ input) + output; problem/solution; "
                          "query/response; question/answer; instruction/response.", available=names)
    if len(fits) > 1:
        raise ColumnError(f"Two shapes fit the columns, {_describe(fits[0])} and {_describe(fits[1])}: name the "
                          "columns to score (question=..., answer=... or messages=...).", available=names)
    logger.info("Scoring %s (found from the column names).", _describe(fits[0]))
    return fits[0]


def resolve_columns(available: Iterable[str], question=None, answer=None, messages: str | None = None) -> dict:
    """The columns a row's Q and A come from: those given, else the shape :func:`detect_columns` finds in
    ``available`` (names or features); with one of question/answer given, the other one found."""
    if messages:
        return {"messages": messages}
    found = {} if question and answer else detect_columns(available)
    if not (question or answer):
        return found
    if "messages" in found:  # one given: the other one cannot come from conversations
        raise ColumnError("Give both question= and answer=: the data holds conversations.", available=available)
    question, answer = list(question or found["question"]), answer or found["answer"]
    check_distinct_columns(question, answer)
    return {"question": question, "answer": answer}


def column_args(question=None, answer=None, messages=None) -> tuple:
    """The ``question=``, ``answer=`` and ``messages=`` of :func:`~qaq_datasets.score_fn` and
    :func:`~qaq_datasets.check_fn`, checked before any data is read: ``(question columns as a tuple or None, answer,
    messages)``; :class:`ConfigError` (:class:`ConfigTypeError` for a wrong type) otherwise."""
    question = [question] if isinstance(question, str) else question
    if question is not None and (not isinstance(question, Sequence) or not all(isinstance(c, str) for c in question)):
        raise ConfigTypeError(f"question must be a column name or a list of column names, got {question!r}.")
    if question is not None and not question:
        raise ConfigError("question names no column.")
    if answer is not None and not isinstance(answer, str):
        raise ConfigTypeError(f"answer must name one column, got {answer!r}.")
    if messages is not None and (not isinstance(messages, str) or question or answer):
        raise ConfigError("messages= names one column of conversations; it does not go with question=/answer=.")
    if question and answer:
        check_distinct_columns(question, answer)
    return question and tuple(question), answer, messages


def check_distinct_columns(question, answer) -> None:
    """Raise :class:`ColumnError` when a column is named twice among the question columns and the answer."""
    names = [*question, answer]
    if twice := next((c for c in names if names.count(c) > 1), None):
        raise ColumnError(f"Column {twice!r} is named twice: Q and A must come from different columns (question="
                          f"{list(question)}, answer={answer!r}).", column=twice)


def check_shape_columns(columns: dict, names: Iterable[str], features=None) -> dict:
    """``columns`` (of :func:`resolve_columns`), or :class:`ColumnError` naming the first one missing from ``names``
    (listing those there) or, with ``features``, one whose feature cannot hold its cells: a text column must hold
    text (or TRL's turns: lists of mappings) and a ``messages`` column conversations. A column of mixed cells
    (``Json``) passes: a cell of the wrong kind gets its status on its own row."""
    names, conv = list(names), columns.get("messages")
    if missing := next((col for col in _read(columns) if col not in names), None):
        raise ColumnError(f"Column {missing!r} is not in the dataset.", column=missing, available=names)
    for col in _read(columns) if features is not None else ():
        feat, dtype = features[col], getattr(features[col], "dtype", None)
        text = not (isinstance(feat, dict) or _is_list(feat)) and dtype in _TEXT_DTYPES
        if not (_is_turns(feat) or (type(feat).__name__ == "Json" if col == conv else text)):
            what = ("conversations (lists of {role, content} turns)" if col == conv else
                    "text (or TRL's turns: lists of {role, content})")
            raise ColumnError(f"Column {col!r} must hold {what}, but its feature is {feat}.", column=col,
                              available=names)
    return columns


def _read(columns: dict) -> list[str]:
    """The columns that a row's Q and A are read from."""
    return [c for c in (columns.get("messages"), *columns.get("question", ()), columns.get("answer")) if c]


def _is_list(feature) -> bool:
    return isinstance(feature, list) or type(feature).__name__ in ("List", "Sequence", "LargeList")


def _is_turns(feature) -> bool:
    """A list of mappings (turns, {role, content}); a list of strings is not one."""
    inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", None)
    return _is_list(feature) and isinstance(inner, dict)


def row_or_batch(fn, batch: dict, columns: dict) -> dict:
    """``fn(batch)``; for one row (:func:`is_one_row`), ``fn`` of it as a batch of one, unwrapped, with a warning
    (shown once per process by Python's default warning filter)."""
    if not is_one_row(batch, columns):
        return fn(batch)
    warnings.warn("Mapping one row at a time: ds.map(fn, batched=True) is much faster.", stacklevel=2)
    return {k: v[0] for k, v in fn({k: [v] for k, v in batch.items()}).items()}


def is_one_row(batch, columns: dict) -> bool:
    """Whether a ``Dataset.map`` function got one row (``batched=False``) rather than a batch of ``columns``
    (:func:`resolve_columns`); ``datasets`` does not say which.

    A batch's values are lists of one length, and its cells in the columns scored are conversations (lists)
    or texts; a row's values are cells, lists only where they hold turns (dicts). The one batch that reads as
    a row is one without a single conversation or text among its scored cells (only dicts, or in a
    ``messages`` column dicts and strings), which only a column of mixed cells can hold. ``qaq.score``, the
    runners and the CLI never guess: they map ``Scorer.score_batch``.
    """
    values = list(batch.values())
    if not all(isinstance(v, list) for v in values) or len({len(v) for v in values}) > 1:
        return True
    cells = [x for c in _read(columns) for x in batch[c]]
    kinds = {type(x) for x in cells}
    if not cells or list in kinds:
        return not cells  # an empty conversation (map never passes an empty batch), or conversations: a batch
    if "messages" in columns:
        return kinds != {type(None)}  # turns, or a batch of null conversations
    return dict in kinds and str not in kinds  # TRL turns, or a batch of texts


def _describe(columns: dict) -> str:
    if "messages" in columns:
        return f"the conversations in {columns['messages']!r}"
    return f"question={columns['question']} answer={columns['answer']!r}"


def parse_batch(batch, columns: dict) -> list:
    """:func:`parse_row` of every row of a ``Dataset.map`` batch (``{column: [cells]}``), reading ``columns``
    (:func:`resolve_columns`)."""
    q_cols = [columns["messages"]] if "messages" in columns else columns["question"]
    a_col = columns.get("answer")
    return [parse_row([batch[c][i] for c in q_cols], batch[a_col][i] if a_col else None, "messages" in columns)
            for i in range(len(batch[q_cols[0]]))]


def parse_row(q_cells: list, a_cell, messages: bool = False) -> tuple[str | None, list[str], bool, str] | str:
    """``(system, Q's parts, whether they are conversation turns, A)`` of one row, or why it cannot be scored.

    ``q_cells`` are the question columns' cells, or ``[conversation]`` for a ``messages`` column; when the
    answer cell is a list, the cells are turns (TRL's conversational prompt/completion). A conversation's
    last turn is A, and must be the assistant's; the turns before it must alternate user, assistant, ..., user,
    after an optional leading system turn (the system context).
    """
    system, turn = None, messages or isinstance(a_cell, list)
    if turn:
        turns = q_cells[0] if messages else [t for c in [*q_cells, a_cell] for t in (c if isinstance(c, list) else [c])]
        if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("role"), str)
                                                  and isinstance(t.get("content"), str) for t in turns):
            return st.BAD_MESSAGES
        if turns and turns[0]["role"] == "system":
            system, turns = turns[0]["content"], turns[1:]
        if not turns or turns[-1]["role"] != "assistant":
            return st.NO_ASSISTANT_TURN
        roles = [t["role"] for t in turns[:-1]]
        if "user" not in roles:
            return st.NO_USER_TURN
        if roles != ["user", "assistant"] * (len(roles) // 2) + ["user"]:
            return st.BAD_MESSAGES  # turns that do not alternate, or a system or tool turn inside the conversation
        q_parts, a = [t["content"] for t in turns[:-1]], turns[-1]["content"]
    elif any(c is not None and not isinstance(c, str) for c in q_cells):
        return st.NOT_A_STRING
    else:
        q_parts, a = [c for c in q_cells if c and c.strip()], a_cell
    if not any(p.strip() for p in q_parts):
        return st.EMPTY_QUESTION
    if a is not None and not isinstance(a, str):  # (a conversation's answer is text)
        return st.NOT_A_STRING
    if a is None or not a.strip():
        return st.EMPTY_ANSWER
    return system, q_parts, turn, a
