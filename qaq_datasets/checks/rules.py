"""The text checks: model-free rules that find what no score sees reliably, each a registered class whose
thresholds are its constructor arguments.

Broken code and code in the wrong language are as likely under a language model, and as related to their question,
as good answers; a looping answer can look coherent to it. So they are checked on the text itself:

* :class:`Looping`: one line making up half of the lines, a block of lines repeated, repeated word 5-grams, or a
  short span repeated many times in a row;
* :class:`MissingCode`: the question asks for code (a sentence that opens with an imperative such as "Write",
  "Create" or "Implement" whose object is a function, program, script, query, …, in a question that names a
  language, a programming noun or holds code), or the answer opens by saying it holds code ("Here is the code you
  asked for."), and the answer is prose only (sentences, no character code needs), as a restated question, a
  refusal or filler is;
* :class:`UnparseableCode`: the answer's code is in a language with a parser (Python: tagged, or clearly guessed;
  see :mod:`~qaq_datasets.checks.languages`) and the parser rejects it (unless the question asks for pseudo-code
  and names no language);
* :class:`WrongLanguage`: the question names one language, and the answer's code is guessed to be in another,
  or no code in the asked language was recognised and the answer's text outside code and quotes names other
  languages and not the asked one.

The code is the answer's fenced blocks when it has any (their tag names the language), else the whole answer, or
the answer from its first line that starts like Python code when it opens with prose. A language is claimed only
when one clearly wins: otherwise nothing is. :func:`~qaq_datasets.checks.check_fn` writes each check's result as
a column (``check_{name}``, True where the problem is found), which selection reads with ``drop_where``.

Adding a check: a subclass of :class:`Check` with a ``name``, decorated with :func:`register` (which makes it a
frozen dataclass).

Examples:
    >>> UnparseableCode()("Write a Python function that prints a sum.", "def add(a, b)\\n    print(a + b)")
    True
    >>> WrongLanguage()("Write a Java method that prints a sum.", "def add(a, b):\\n    print(a + b)")
    True
    >>> Looping()("Sort a list.", "\\n".join(["nums.sort()"] * 12))
    True
    >>> MissingCode()("Write a function that reverses a string.", "The task is to reverse a string with a function.")
    True
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from ..errors import check_int, check_number
from .languages import ANY_NAME, LANGUAGES, SHORT_NAME, TAGS, guess_language, named_languages

#: the prefix of the check columns: ``check_looping`` is True where :class:`Looping` finds a looping answer
COLUMN_PREFIX = "check_"
#: name → check class, in the order the ``default`` plan drops them
CHECKS: dict[str, type[Check]] = {}

#: a sentence that asks for code: an imperative verb opening it, then (within the sentence) what to write
_ASKS_CODE = re.compile(r"(?:^|[.!?:]\s+|\n)\s*(?:please\s+)?(?:write|create|implement|generate|develop|construct|build|"
                        r"compose|code|rewrite|modify|edit|fix|complete|make)\b[^.?!\n]{0,60}?\b(?:function|program|"
                        r"script|code|class|method|query|statement|snippet|loop|regex|regular expression|routine|"
                        r"procedure)s?\b", re.IGNORECASE)
#: what makes such a sentence about programming ("Write a statement" alone may be prose): a language, a
#: programming noun, or code in the question
_CODE_CUE = [SHORT_NAME, ANY_NAME,
             re.compile(r"\b(?:functions?|methods?|regex|regular expressions?|snippets?|algorithms?|arrays?|lists?|"
                        r"strings?|integers?|variables?|loops?|dictionar(?:y|ies)|APIs?|JSON|databases?|trees?|"
                        r"stacks?|queues?|nodes?|recursion|sort(?:ing)?|command line|web ?page)\b"
                        r"|\bcode\b(?!\s+of\b)", re.IGNORECASE),
             re.compile(r"[=\[\]{};]|\w_\w|\w\(")]
#: an answer that opens by saying it holds code, in a sentence that ends there ("Here is the code you asked
#: for."; not "Here is the code: SELECT …", "Here is the dress code …" or "… the code of conduct")
_CLAIMS_CODE = re.compile(r"\s*(?:(?:sure|certainly|of course)[,!.]?\s+)?(?:here is|here's|below is)\s+(?:(?:the|your|"
                          r"some|a|an)\s+)?(?:[A-Z][\w+#]*\s+)?(?:code|snippet)\b(?!\s+of\b)[^.!?:\n]{0,40}[.!]",
                          re.IGNORECASE)
_PROSE = re.compile(r"[\w\s.,'\"!?:\-]*")  # letters, digits, spaces, sentence punctuation: code needs another
_QUOTED = re.compile(r"\"[^\"\n]*\"|`[^`\n]*`|'[^'\s]*'")  # a string literal or code span names a language freely
_PSEUDO = re.compile(r"\bpseudo[- ]?code", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_CODE_START = re.compile(r"^(def |class |import |from \S+ import |for |while |if |@\w|\w+\s*=)", re.MULTILINE)
_WORD = re.compile(r"\w+")


class Texts:
    """One row's question and answer, and what several checks read of them (computed once per row)."""

    def __init__(self, question: str, answer: str):
        self.question, self.answer, self._blocks = question, answer, {}

    @cached_property
    def asked(self) -> str | None:
        """The one language the question names (of those told apart), or None."""
        return found.pop() if len(found := named_languages(self.question)) == 1 else None

    @cached_property
    def fenced(self) -> list[tuple[str, str]]:
        return _FENCE.findall(self.answer)

    def rejects(self, lang: str, code: str) -> bool:
        """Whether ``lang`` has a parser and it rejects ``code`` (an unfenced answer that opens with prose: from its
        first line of code)."""
        parser = LANGUAGES[lang].parser
        if not parser or parser(code):
            return False
        start = None if self.fenced else _CODE_START.search(code)
        return not (start and parser(code[start.start():]))

    def blocks(self, *guess) -> list[tuple[str | None, str]]:
        """(language, code) of each fenced block (or of the whole answer); ``guess``: :func:`guess_language`'s
        thresholds."""
        if guess not in self._blocks:
            self._blocks[guess] = [(TAGS.get(tag.lower()) or guess_language(code, *guess), code)
                                   for tag, code in self.fenced] or [(guess_language(self.answer, *guess), self.answer)]
        return self._blocks[guess]


# not typing.dataclass_transform: Python 3.11+, and this package supports 3.10
def register(cls: type[Check]) -> type[Check]:
    """Class decorator: make ``cls`` a frozen dataclass (unless it is a dataclass already) and a known check
    (``check_fn``, plan files and cards find it by its name)."""
    cls = cls if "__dataclass_params__" in vars(cls) else dataclass(frozen=True)(cls)
    CHECKS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Check:
    """Base class of the text checks: ``check(question, answer)`` is True where the problem is found."""

    name: ClassVar[str]

    def __post_init__(self):
        for f in dataclasses.fields(self):  # an integer >= 1 or a number > 0 (a share: at most 1), as its default
            value, what = getattr(self, f.name), f"check {self.name} {f.name}"
            interval = "(0, 1]" if f.name.endswith("_share") else "(0, inf)"
            value = check_number(value, what, interval) if isinstance(f.default, float) else check_int(value, what, 1)
            object.__setattr__(self, f.name, value)

    @property
    def column(self) -> str:
        return COLUMN_PREFIX + self.name

    def params(self) -> dict:
        return dataclasses.asdict(self)

    def __call__(self, question: str, answer: str) -> bool:
        return self.found(Texts(question, answer))

    def found(self, texts: Texts) -> bool:
        raise NotImplementedError


@register
class Looping(Check):
    """A looping answer: one line (of ``min_lines`` or more) repeated ``min_count`` times and making up
    ``line_share`` of the lines; a block of 2 to ``max_block`` lines repeated ``block_repeats`` times in a row;
    at least ``min_words`` words whose distinct word 5-grams are under ``gram_share`` of them; or a span of up to
    30 characters repeated ``span_repeats`` times in a row over ``min_span`` characters."""

    name = "looping"
    min_lines: int = 4
    min_count: int = 4
    line_share: float = 0.5
    max_block: int = 8
    block_repeats: int = 3
    min_words: int = 30
    gram_share: float = 0.35
    span_repeats: int = 8
    min_span: int = 40

    def found(self, texts: Texts) -> bool:
        text = texts.answer
        lines = [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 2]
        if len(lines) >= self.min_lines:
            count = Counter(lines).most_common(1)[0][1]
            if count >= self.min_count and count / len(lines) >= self.line_share:
                return True
        r = self.block_repeats
        for k in range(2, min(self.max_block, len(lines) // r) + 1):  # a block looping (its last copy may be cut)
            if any(len(set(lines[i:i + k])) > 1 and all(lines[i + j * k:i + (j + 1) * k] == lines[i:i + k]
                                                        for j in range(1, r)) for i in range(len(lines) - r * k + 1)):
                return True
        words = [w.lower() for w in _WORD.findall(text)]
        grams = [tuple(words[i:i + 5]) for i in range(len(words) - 4)]
        if len(words) >= self.min_words and len(set(grams)) / len(grams) < self.gram_share:
            return True
        if self.span_repeats > len(text):  # also keeps the regex's repeat count within what `re` accepts
            return False
        m = re.search(r"(\S.{0,29}?)\1{%d,}" % (self.span_repeats - 1), text, re.DOTALL)
        return bool(m and len(m.group(0)) >= self.min_span)


@register
class MissingCode(Check):
    """Prose only (``min_words`` words or more, a sentence that ends, no character code needs) where the question
    asks for code, or where the answer opens by saying it holds code."""

    name = "missing_code"
    min_words: int = 5

    def found(self, texts: Texts) -> bool:
        answer = texts.answer.strip()
        prose = bool(_PROSE.fullmatch(answer)) and len(answer.split()) >= self.min_words and \
            bool(re.search(r"\w[.!?](\s|$)", answer))
        return prose and (asks_for_code(texts.question) or bool(_CLAIMS_CODE.match(texts.answer)))


@dataclass(frozen=True)
class _Guessing(Check):
    """A check that reads the answer's guessed language (:func:`~qaq_datasets.checks.languages.guess_language`'s
    thresholds)."""

    min_hits: int = 2
    dominance: float = 2.0
    c_lines: int = 2
    c_every: int = 3

    def blocks(self, texts: Texts):
        return texts.blocks(self.min_hits, self.dominance, self.c_lines, self.c_every)


@register
class WrongLanguage(_Guessing):
    """Code in another language than the one the question names (code the asked language's parser rejects is
    C-family from ``rejected_lines`` lines ending in ``;``, ``{`` or ``}``), or, with no code in the asked language,
    an answer whose text (outside code and quotes) names other languages and not the asked one."""

    name = "wrong_language"
    rejected_lines: int = 1

    def found(self, texts: Texts) -> bool:
        asked, blocks = texts.asked, self.blocks(texts)
        if not asked:
            return False
        for lang, code in blocks:
            if not lang and texts.rejects(asked, code):  # code the asked language's parser rejects: C-family
                lang = guess_language(code, self.min_hits, self.dominance, self.rejected_lines, self.c_every)
            if lang and lang != asked and not (lang == "c-family" and LANGUAGES[asked].c_family):  # c-family fits any
                return True
        if any(lang == asked for lang, _ in blocks):
            return False
        named = named_languages(_QUOTED.sub(" ", _FENCE.sub(" ", texts.answer)))
        return bool(named) and asked not in named  # "... in JavaScript" answering a Python question


@register
class UnparseableCode(_Guessing):
    """Code in a language with a parser (Python) that the parser rejects, unless the question asks for pseudo-code
    and names no language; an unfenced answer that opens with prose is parsed from its first line of code."""

    name = "unparseable_code"

    def found(self, texts: Texts) -> bool:
        if not texts.asked and _PSEUDO.search(texts.question):
            return False
        return any(lang in LANGUAGES and texts.rejects(lang, code) for lang, code in self.blocks(texts))


def asks_for_code(question: str) -> bool:
    """Whether a sentence of ``question`` asks for code ("Write a function …", "Create a SQL query …"), and the
    question is about programming (it names a language, a programming noun, or holds code)."""
    return bool(_ASKS_CODE.search(question)) and any(rx.search(question) for rx in _CODE_CUE)
