"""QAQ scoring: templates, pair encoding, the span-NLL forward pass and the ``Scorer``."""

from .schema import score_columns, score_features
from .encoding import EncodedPair, PairEncoder
from .scorer import Scorer, score_fn
from .templates import Template, format_template, raw_template

__all__ = ["EncodedPair", "PairEncoder", "Scorer", "Template", "format_template", "raw_template",
           "score_columns", "score_features", "score_fn"]
