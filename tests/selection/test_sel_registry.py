"""The step registry: a step is one registered class, and its Selector method is derived from it."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import KW_ONLY

import numpy as np
import pytest
from datasets import Dataset

from qaq_datasets.errors import ConfigError
from qaq_datasets.selection import Selector
from qaq_datasets.selection.steps import STEPS, Step, StepMethods, register_step


@pytest.mark.parametrize("kind", list(STEPS))
def test_each_step_s_method_has_its_class_s_docstring_and_fields(kind):
    cls, method = STEPS[kind], getattr(Selector, kind)
    assert method.__doc__ == cls.__doc__ and cls.__doc__.strip()
    params = list(inspect.signature(method).parameters.values())
    assert params[0].name == "self"
    fields = dataclasses.fields(cls)
    assert [p.name for p in params[1:]] == [f.name for f in fields]
    for p, f in zip(params[1:], fields):
        assert p.default == (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        assert (p.kind is inspect.Parameter.KEYWORD_ONLY) == f.kw_only
    assert inspect.signature(method).return_annotation == "Selector"


def test_the_public_signatures_are_the_ones_documented():
    sig = {kind: str(inspect.signature(getattr(Selector, kind))).replace("'", "") for kind in
           ("drop_where", "gap", "score", "stratify", "keep_top")}
    assert sig["drop_where"].startswith("(self, column: str, op: str, value: Any, *, reason: str | None = None, "
                                        "divide_by: str | None = None)")
    assert "(self, strong: str, weak: str, *, strong_by" in sig["gap"] and "name: str = qaq_gap)" in sig["gap"]
    assert sig["score"].startswith("(self, column: str, *, ascending: bool = False, divide_by")
    assert sig["stratify"].startswith("(self, column: str, bins: int = 10, *, min_rows: int = 2)")
    assert sig["keep_top"].startswith("(self, n: int | float)")  # no default budget
    with pytest.raises(TypeError):
        Selector().drop_where("a", ">", 1, "reason")  # reason= is keyword-only


@pytest.fixture
def drop_every():
    """A step the library does not have, registered for one test (the registry is module state: it is left as
    the other tests expect it)."""

    @register_step
    class DropEvery(Step):
        """Drop every ``k``-th row."""

        kind = "drop_every"
        k: int = 2
        _: KW_ONLY
        reason: str = "every_k"

        def validate(self):
            if not isinstance(self.k, int) or self.k < 1:
                raise ConfigError(f"drop_every k must be an integer >= 1, got {self.k!r}.")

        def run(self, state, valid, index):
            return {"dropped": state.drop(valid & (np.arange(state.n) % self.k == 0), self.reason)}

    yield DropEvery
    STEPS.pop("drop_every")
    delattr(StepMethods, "drop_every")


def test_a_newly_registered_step_is_a_method_and_reads_from_plans(drop_every):
    plan = Selector().drop_every(3, reason="thirds").random(seed=1).keep_top(1.0)
    assert plan.steps[0] == {"step": "drop_every", "k": 3, "reason": "thirds"}
    assert Selector.from_dict(plan.to_dict()) == plan
    assert Selector.from_yaml(plan.to_yaml()) == plan
    selection = plan.fit(Dataset.from_dict({"x": list(range(9))}))
    assert selection.report["drop_reasons"] == {"thirds": 3}
    test_each_step_s_method_has_its_class_s_docstring_and_fields("drop_every")
    with pytest.raises(ConfigError, match="plan step 0 .drop_every.: drop_every k must be an integer >= 1, got 0"):
        Selector.from_dict({"steps": [{"step": "drop_every", "k": 0}]})
    with pytest.raises(ConfigError, match="plan step 0 .drop_every. takes k, reason; got j."):
        Selector.from_dict({"steps": [{"step": "drop_every", "j": 2}]})
    with pytest.raises(ConfigError, match="unknown step 'nope'; known: .*keep_top.*drop_every"):
        Selector.from_dict({"steps": [{"step": "nope"}]})


def test_the_registry_refuses_a_kind_that_is_taken():
    for kind in ("gap", "fit", "to_dict", "steps"):
        with pytest.raises(TypeError, match=f"step kind '{kind}' is taken"):
            register_step(type("Clash", (Step,), {"kind": kind}))
    assert STEPS["gap"].__name__ == "Gap" and "fit" not in STEPS
    assert Selector().gap("strong_rmi", "weak_rmi", bins=2).steps[0]["bins"] == 2  # still the real gap
