"""Prompt templates: the text around Q and A in the two passes.

The forward pass is ``q_prefix + Q + qa_sep + A + a_end`` and the reverse pass ``a_prefix + A + aq_sep + Q``.
Q is one text, or several joined by template text: question columns by ``q_sep``; the earlier turns of a
conversation by ``qa_sep`` (user to assistant) and ``au_sep`` (assistant to user). ``{system}`` in a template
string is the system context: the template's ``system``, or the conversation's own system turn.

- ``standard`` (role-consistent): Q is always the user's turn and A the assistant's, in either order, after the
  same system context. Cut from the model's chat template; models without one (or whose template refuses an
  assistant turn first) get a plain "### Instruction / ### Response" format.
- ``paper`` (the QAQ authors' ``rmi_math.py``): the forward pass is the standard one; in the reverse pass A sits
  inside a reverse instruction in the user's turn and Q is the assistant's reply (so NLL(A) is A inside that
  instruction, without Q). :data:`REVERSE_INSTRUCTION` is their math wording, reworded for code. Base models
  without a chat template get the same recipe in the "### Instruction / ### Response" format: their code
  borrows an instruct sibling's chat template, which cannot be found offline.
- ``alpaca``: the Alpaca prompt of Cherry_LLM, Superfiltering and Reflection_Tuning, chosen per row: the
  preamble with an input for rows with two question parts (instruction, input), the one without otherwise.
  NLL(A) is A after ``### Response:`` alone, as in their code; the reverse pass (A, then Q) is ours.
- ``raw``: no system context, only a document-start token (the paper's "Raw RMI").
- a :class:`Template`, or a callable ``row -> Template | name`` that picks a template per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import ConfigError, ConfigTypeError

DEFAULT_SYSTEM = "You are a helpful programming assistant."
#: the reverse instruction of the QAQ authors' rmi_math.py with "math problem"/"mathematics" worded for code
REVERSE_INSTRUCTION = ("TASK: Given an answer, generate the most likely coding instruction that this answer is "
                       "responding to. If the inferred instruction is outside programming, respond with \"INVALID\"."
                       "\nAnswer:\n")
ALPACA_SYSTEM = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
                 "request.", "Below is an instruction that describes a task, paired with an input that provides "
                 "further context. Write a response that appropriately completes the request.")
BUILTIN = ("standard", "paper", "alpaca", "raw")
SYSTEM = "{system}"
_S = [f"\u2063QAQ_SENTINEL_{i}\u2063" for i in range(5)]  # system, then four turn contents


@dataclass(frozen=True)
class Template:
    """The text around the question (Q) and the answer (A) in both passes.

    Attributes:
        name: a label recorded in fingerprints and cards.
        q_prefix: text before Q in the forward pass (its context for NLL(Q)).
        qa_sep: text between Q and A in the forward pass (and from a user turn to an assistant turn inside Q).
        a_prefix: text before A in the reverse pass (its context for NLL(A)).
        aq_sep: text between A and Q in the reverse pass.
        add_bos: put the tokenizer's BOS token (or EOS if it has none) first in both passes.
        a_end: text that closes the answer in the forward pass; its first token is scored as ``nll_end``.
            Empty: the tokenizer's EOS token.
        q_sep: text joining several question columns (e.g. instruction and input).
        au_sep: text from an assistant turn to a user turn inside Q (earlier turns of a conversation);
            None: ``aq_sep``.
        system: the system context put where a string says ``{system}``, unless the row brings its own.

    Examples:
        >>> Template("mine", "### Q:\\n", "\\n### A:\\n", "### A:\\n", "\\n### Q:\\n")  # doctest: +ELLIPSIS
        Template(name='mine', ...)
    """

    name: str
    q_prefix: str
    qa_sep: str
    a_prefix: str
    aq_sep: str
    add_bos: bool = False
    a_end: str = ""
    q_sep: str = "\n\n"
    au_sep: str | None = None
    system: str = DEFAULT_SYSTEM


#: the standard template of a model without a chat template
FORMAT_TEMPLATE = Template("standard-format", SYSTEM + "\n\n### Instruction:\n", "\n\n### Response:\n",
                           SYSTEM + "\n\n### Response:\n", "\n\n### Instruction:\n", add_bos=True)


def _chat_pieces(tokenizer, roles: list[str]) -> list[str] | None:
    """The chat template rendered with sentinels as the system turn and the turns' contents, cut at them."""
    msgs = [{"role": "system", "content": _S[0]}] + [{"role": r, "content": s} for r, s in zip(roles, _S[1:])]
    try:
        text = tokenizer.apply_chat_template(msgs, tokenize=False)
    except Exception:  # noqa: BLE001 - no chat template, or one that insists on alternation from the user
        return None
    turns = _S[1 : 1 + len(roles)]
    cut = re.split(f"({'|'.join(map(re.escape, turns))})", text.replace(_S[0], SYSTEM))
    if cut[1::2] != turns or text.count(_S[0]) > 1:  # each turn once, in order; the system turn at most once
        return None
    return cut[::2]


def resolve_template(template, tokenizer, n_parts: int = 1) -> Template:
    """A concrete :class:`Template` from a built-in name or a :class:`Template` (``n_parts``: question parts of
    the row, for ``alpaca``)."""
    if isinstance(template, Template):
        return template
    if template == "alpaca":  # Cherry_LLM's Alpaca prompt, the preamble with an input for a row with two parts
        return Template("alpaca-input" if n_parts > 1 else "alpaca", SYSTEM + "\n\n### Instruction:\n",
                        "\n\n### Response:", "### Response:", "\n\n### Instruction:\n", add_bos=True,
                        q_sep="\n\n### Input:\n", system=ALPACA_SYSTEM[n_parts > 1])
    if template == "raw":
        return Template("raw", "", "\n\n", "", "\n\n", add_bos=True)
    if template_arg(template) not in ("standard", "paper"):  # an unknown name or type fails in template_arg
        raise ConfigTypeError("A template callable is called with the row and must return a Template or a name.")
    # the standard template is cut from the model's chat template where it can be (see _chat_pieces)
    fwd, rev = _chat_pieces(tokenizer, ["user", "assistant"]), _chat_pieces(tokenizer, ["assistant", "user"])
    chat = fwd and rev and Template("standard-chat", fwd[0], fwd[1], rev[0], rev[1], a_end=fwd[2].strip())
    std = chat or FORMAT_TEMPLATE
    if template == "standard":
        return std
    # the QAQ authors' recipe: the reverse pass has A inside the reverse instruction in the user's turn, Q the reply
    return replace(std, name=std.name.replace("standard", "paper"), a_prefix=std.q_prefix + REVERSE_INSTRUCTION,
                   aq_sep=std.qa_sep, au_sep=std.aq_sep)


def template_arg(template):
    """A template argument checked without a tokenizer (before any model loads); a dict becomes a Template."""
    if isinstance(template, dict):
        try:
            return Template(**template)
        except TypeError as exc:
            raise ConfigError(f"Bad template dict: {exc}") from None
    if isinstance(template, str) and template not in BUILTIN:
        raise ConfigError(f"Unknown template {template!r}: use one of {', '.join(BUILTIN)}, a qaq.Template or a "
                          "callable.")
    if not isinstance(template, (str, Template)) and not callable(template):
        raise ConfigTypeError(f"template must be a name ({', '.join(BUILTIN)}), a Template, a dict or a callable "
                              f"row -> Template, not {type(template).__name__}.")
    return template
