"""Prompt templates: the text around Q and A in the two passes.

A template is four strings. The forward pass is ``q_prefix + Q + qa_sep + A`` and the reverse pass
is ``a_prefix + A + aq_sep + Q``. The standard template is *role-consistent*: the question is always
the user's turn and the answer always the assistant's, in either order, after the same system context,
so the only difference between NLL(Q) and NLL(Q|A) (and between NLL(A) and NLL(A|Q)) is the other
turn being present.

- ``standard``: the model's chat template where it has one (rendered with sentinels and cut into
  pieces), else a plain "### Instruction / ### Response" format; both with a system context.
- ``raw``: no system context at all, only a document-start token: the paper's "Raw RMI".
- a :class:`Template` of your own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError, ConfigTypeError

DEFAULT_SYSTEM = "You are a helpful programming assistant."
_SQ, _SA = "\u2063QAQ_SENTINEL_Q\u2063", "\u2063QAQ_SENTINEL_A\u2063"


@dataclass(frozen=True)
class Template:
    """The text around the question (Q) and the answer (A) in both passes.

    Attributes:
        name: a label recorded in fingerprints and cards.
        q_prefix: text before Q in the forward pass (its context for NLL(Q)).
        qa_sep: text between Q and A in the forward pass.
        a_prefix: text before A in the reverse pass (its context for NLL(A)).
        aq_sep: text between A and Q in the reverse pass.
        add_bos: put the tokenizer's BOS token (or EOS if it has none) first in both passes.
        a_end: text that closes the answer in the forward pass (the chat template's end of turn); its first
            token is scored as ``nll_end``, the answer's completeness. Empty: the tokenizer's EOS token.

    Examples:
        >>> Template("alpaca", "### Q:\\n", "\\n### A:\\n", "### A:\\n", "\\n### Q:\\n")  # doctest: +ELLIPSIS
        Template(name='alpaca', ...)
    """

    name: str
    q_prefix: str
    qa_sep: str
    a_prefix: str
    aq_sep: str
    add_bos: bool = False
    a_end: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def format_template(system: str = DEFAULT_SYSTEM) -> Template:
    """The standard template for models without a chat template."""
    head = f"{system}\n\n" if system else ""
    return Template("standard-format", f"{head}### Instruction:\n", "\n\n### Response:\n",
                    f"{head}### Response:\n", "\n\n### Instruction:\n", add_bos=True)


def raw_template() -> Template:
    """No system context: Q (or A) follows only a document-start token (the paper's Raw RMI)."""
    return Template("raw", "", "\n\n", "", "\n\n", add_bos=True)


def chat_template(tokenizer, system: str = DEFAULT_SYSTEM) -> Template | None:
    """The standard template cut from the tokenizer's chat template, or None if it cannot be."""
    if not getattr(tokenizer, "chat_template", None):
        return None

    def render(messages):
        return tokenizer.apply_chat_template(messages, tokenize=False)

    sys_msg = [{"role": "system", "content": system}] if system else []
    try:
        fwd = render(sys_msg + [{"role": "user", "content": _SQ}, {"role": "assistant", "content": _SA}])
        rev = render(sys_msg + [{"role": "assistant", "content": _SA}, {"role": "user", "content": _SQ}])
    except Exception:  # templates that insist on user/assistant alternation starting with the user
        return None
    if fwd.count(_SQ) != 1 or fwd.count(_SA) != 1 or rev.count(_SQ) != 1 or rev.count(_SA) != 1:
        return None
    q_prefix, rest = fwd.split(_SQ)
    qa_sep, a_end = rest.split(_SA)
    a_prefix, rest = rev.split(_SA)
    aq_sep, _ = rest.split(_SQ)
    if _SA in q_prefix or _SQ in a_prefix:
        return None
    return Template("standard-chat", q_prefix, qa_sep, a_prefix, aq_sep, add_bos=False, a_end=a_end.strip())


def resolve_template(template, tokenizer) -> Template:
    """Turn ``"standard"``, ``"raw"``, a dict or a :class:`Template` into a concrete :class:`Template`."""
    if isinstance(template, Template):
        return template
    if isinstance(template, dict):
        return Template(**template)
    if template == "standard":
        return chat_template(tokenizer) or format_template()
    if template == "raw":
        return raw_template()
    if isinstance(template, str):
        raise ConfigError(f"Unknown template {template!r}: use 'standard', 'raw' or a qaq.Template.")
    raise ConfigTypeError(f"template must be 'standard', 'raw', a dict or a Template, not {type(template).__name__}.")


def check_template_arg(template) -> None:
    """Validate a template argument without a tokenizer (before any model loads)."""
    if isinstance(template, (Template, dict)):
        if isinstance(template, dict):
            try:
                Template(**template)
            except TypeError as exc:
                raise ConfigError(f"Bad template dict: {exc}") from None
        return
    if template not in ("standard", "raw"):
        resolve_template(template, None)
