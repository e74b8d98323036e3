"""``qaq``: the command line. Thin: it parses arguments and calls the library (same code as the Python API)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ConfigError, QAQError
from .models.aliases import DEFAULT_STRONG, DEFAULT_WEAK

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="QAQ: score, select and publish synthetic code-instruction data (Hugging Face datasets).")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("qaq_demo_output"),
    rows: Annotated[int, typer.Option(min=1, help="Clean HumanEval rows.")] = 64,
    broken: Annotated[int, typer.Option(min=0, help="Broken pairs of each kind (misaligned, echo, filler).")] = 6,
    dtype: Annotated[Optional[str], typer.Option(help="float32 | bfloat16 (default: bf16 where fast).")] = None,
):
    """Score HumanEval plus broken pairs with both default models, select, and write a Hub-ready folder."""
    from .demo import run_demo

    run_demo(out, n_clean=rows, n_each_defect=broken, dtype=dtype)


@app.command()
def score(
    dataset: Annotated[str, typer.Argument(help="A data file (json, jsonl, parquet, csv), a folder or a Hub id.")],
    out: Annotated[str, typer.Option(help="Output folder (Hub layout: parquet + README.md).")],
    question: Annotated[Optional[list[str]], typer.Option(
        help="Question column(s); repeat to join several. Default: found from the columns.")] = None,
    answer: Annotated[Optional[str], typer.Option(help="Answer column. Default: found from the columns.")] = None,
    messages: Annotated[Optional[str], typer.Option(
        help="A column of {role, content} turns: A is the last (assistant) turn, Q every turn before it.")] = None,
    model: Annotated[list[str], typer.Option(help="NAME=SPEC (repeatable); columns get the prefix NAME_.")] = [
        f"strong={DEFAULT_STRONG}", f"weak={DEFAULT_WEAK}"],
    split: Annotated[Optional[str], typer.Option(
        help="Split of a folder or Hub dataset to score (default: train).")] = None,
    config: Annotated[Optional[str], typer.Option(help="Config of a folder or Hub dataset that has several.")] = None,
    max_rows: Annotated[Optional[int], typer.Option(min=1, help="Score only the first N rows.")] = None,
    template: Annotated[str, typer.Option(help="standard | paper | alpaca | raw")] = "standard",
    max_length: Annotated[int, typer.Option(min=4, help="Token budget of one pass.")] = 2048,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per map batch.")] = 64,
    dtype: Annotated[Optional[str], typer.Option(help="float32 | bfloat16 | float16 (default: auto).")] = None,
    num_proc: Annotated[Optional[int], typer.Option(min=1, help="Worker processes (one model copy each).")] = None,
    shard_rows: Annotated[Optional[int], typer.Option(min=1,
        help="Resumable sharded run: rows per shard; finished shards are kept under OUT/run/shards until the "
             "scored folder is written; the same command, with or without --shard-rows, resumes.")] = None,
    distributed: Annotated[bool, typer.Option(
        help="Run as one rank of torchrun/accelerate launch: each rank scores its own shards.")] = False,
    checks: Annotated[bool, typer.Option(
        help="Also write the model-free text checks' columns (check_*), unless the data has them.")] = True,
):
    """Score DATASET with one or several models; write a folder that datasets.load_dataset reads."""
    from .checks import check_columns, check_fn
    from .inputs import load_input
    from .publishing import check_out_dir, save_folder
    from .runner import has_run, out_lock, run_sharded
    from .scoring import MultiScorer, ScoreColumns, score_fn

    out_dir = check_out_dir(out, "--out folder", new_rows=True)
    # score_fn refuses messages with question/answer
    columns = {k: v for k, v in dict(question=question, answer=answer, messages=messages).items() if v}
    scorers = {name: score_fn(spec, prefix=ScoreColumns.named(name).prefix, template=template, max_length=max_length,
                              dtype=dtype, **columns)
               for name, spec in parse_model_args(model).items()}  # resolves every spec: nothing loads yet
    ds = load_input(dataset, split=split, config=config, max_rows=max_rows)
    if checks and not check_columns(ds.column_names):
        scorers["text checks"] = check_fn(**columns)  # a name no --model can take
    fn = MultiScorer(scorers, ds)  # columns (found or given) and max_length, before any model loads
    for name, sc in fn.scorers.items():
        typer.echo(f"{name}: scoring {sc.columns}")
    if shard_rows or distributed or has_run(out_dir):  # an unfinished sharded run is resumed, never bypassed
        if num_proc:
            raise ConfigError("--num-proc is for a plain run: a sharded run (--shard-rows/--distributed) uses one "
                              "process per rank.")
        run_sharded(ds, fn, out_dir, shard_rows=shard_rows, distributed=distributed, source=dataset,
                    batch_size=batch_size, echo=typer.echo)
        return
    with out_lock(out_dir):  # a second command on the same --out is refused, not overwritten
        start = time.perf_counter()
        scored = fn.map(ds, batch_size=batch_size, num_proc=num_proc)
        seconds = time.perf_counter() - start
        save_folder(out_dir, {"scored": scored}, fn.metadata(source=dataset))
    typer.echo(fn.summary(scored, out, seconds))


@app.command()
def select(
    scored_dir: Annotated[str, typer.Argument(help="A folder (or Hub repo) written by `qaq score`.")],
    out: Annotated[str, typer.Option(help="Output folder: curated rows, qaq_plan.yaml, qaq_report.json.")],
    plan: Annotated[str, typer.Option(
        help="A preset name, or a plan YAML file (a file named like a preset: write ./NAME).")] = "default",
    fraction: Annotated[Optional[float], typer.Option(
        help="Budget: a fraction of the rows in (0, 1], or a whole row count > 1.")] = None,
    strong: Annotated[Optional[str], typer.Option(help="Column prefix of the strong model (presets).")] = None,
    weak: Annotated[Optional[str], typer.Option(help="Column prefix of the weak model (presets).")] = None,
    prefix: Annotated[Optional[str], typer.Option(help="The one model's prefix (single-model presets).")] = None,
):
    """Fit a selection plan on scored rows and write the curated rows, the plan and the report."""
    from .publishing import check_out_dir, load_scored, save_selection
    from .publishing.metadata import prefixes_for, text_columns_for
    from .publishing.push import selection_split
    from .selection import load_plan

    check_out_dir(out, "--out folder")
    if fraction is not None and not (0 < fraction <= 1 or (fraction > 1 and fraction.is_integer())):
        raise ConfigError(f"--fraction must be a fraction of the rows in (0, 1] or a whole row count > 1, got "
                          f"{fraction:.6g}.")
    budget = None if fraction is None else (int(fraction) if fraction > 1 else fraction)
    options = dict(strong=strong, weak=weak, prefix=prefix)
    load_plan(plan, fraction=budget, **options)  # a bad plan, fraction or option fails before any data loads
    scored, metadata = load_scored(scored_dir)
    scored = scored[selection_split(scored)]  # train, or the only split
    scorers = prefixes_for(metadata, scored.column_names)
    selector = load_plan(plan, fraction=budget, scorers=scorers, **options)
    scored, computed = selector.add_checks(scored, text_columns_for(metadata), echo=typer.echo)
    metadata = {**metadata, "checks": {**(metadata.get("checks") or {}), **computed}} if computed else metadata
    selection = selector.fit(scored)
    save_selection(out, scored, selection, metadata)
    rep = selection.report
    typer.echo(f"kept {rep['rows_kept']}/{rep['rows_in']} rows; dropped: {json.dumps(rep['drop_reasons'])}")
    for note in rep["warnings"]:
        typer.echo(f"warning: {note}", err=True)
    typer.echo(f"Wrote {out}")


@app.command()
def publish(
    scored_dir: Annotated[str, typer.Argument(help="A folder written by `qaq score`.")],
    repo_id: Annotated[str, typer.Argument(help="The Hub dataset repo, e.g. me/curated-code.")],
    selection: Annotated[Optional[str], typer.Option(help="A folder written by `qaq select`.")] = None,
    private: Annotated[bool, typer.Option(help="Create the repo private.")] = False,
    dry_run: Annotated[Optional[str], typer.Option(help="Write the repo layout to this folder instead.")] = None,
):
    """Push scored (and curated) configs, card, plan and report to the Hub (token: HF_TOKEN or login)."""
    from .publishing import publish_folder

    where = publish_folder(scored_dir, repo_id, selection_dir=selection, private=private, dry_run=dry_run)
    typer.echo(f"Published to {where}")


def parse_model_args(items: list[str]) -> dict[str, str]:
    """``["strong=gemma3-270m", "weak=smollm2-135m"]`` → ``{"strong": ..., "weak": ...}``. A name makes the prefix
    ``{name}_``, which score_fn checks."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(f"--model expects NAME=SPEC (e.g. strong=gemma3-270m), got {item!r}.")
        if name in out:
            raise ConfigError(f"Model name {name!r} given twice.")
        out[name] = spec.strip()
    return out


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=argv, standalone_mode=False, prog_name="qaq")
        if isinstance(code, int) and code:  # typer.Exit's code, 130 on Ctrl-C: returned when not standalone
            raise SystemExit(code)
    except QAQError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:  # a full disk, a folder we may not write: nothing was left under a final name
        if exc.errno is None:
            raise
        typer.echo(f"error: {exc.strerror}: {exc.filename or ''} (nothing was left half-written)", err=True)
        raise SystemExit(1) from None
    except typer.Abort:  # Ctrl-C on a typer that raises Abort for it (this one returns 130)
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors: one line, as every other error
        message = exc.format_message()
        if message:  # (no message: `qaq` alone, the help was printed)
            ctx = getattr(exc, "ctx", None)
            typer.echo(f"error: {message} (see {ctx.command_path if ctx else 'qaq'} --help)", err=True)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
