"""QAQ scoring: data shapes, templates, pair encoding, the span-NLL forward pass and the ``Scorer``."""

from .schema import ScoreColumns
from .encoding import PairEncoder
from .scorer import MultiScorer, Scorer, ScorerConfig, score, score_fn
from .data_shapes import detect_columns
from .templates import Template

__all__ = ["MultiScorer", "PairEncoder", "ScoreColumns", "Scorer", "ScorerConfig", "Template", "detect_columns",
           "score", "score_fn"]
