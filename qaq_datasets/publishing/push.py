"""``publish``: scored rows, curated rows, plan, report and card to one Hub dataset repo (or a folder).

Order of operations (so a failure leaves a clear error and never a half-written card):

1. check everything locally (repo id, token, datasets, selection) — nothing is sent before;
2. push the data, one config at a time, with ``DatasetDict.push_to_hub(repo_id, config_name=...)``
   (``datasets`` writes ``configs:``/``dataset_info:`` into the card YAML);
3. read the card ``datasets`` left, merge the generated part in, and upload README.md, the plan and the report
   in ONE commit (``HfApi.create_commit``), so the card lands whole or not at all.

A failed step raises :class:`PublishError` naming the step, with the cause chained; the token never appears
in messages, logs, the card or uploaded files. ``dry_run=FOLDER`` writes the same layout and the same card to
a local folder instead (see :mod:`.folder`). :func:`publish_folder` publishes ``qaq score``/``qaq select``
output folders: it re-fits the saved plan on the scored rows (refusing a plan fitted on other rows).

Input columns
    The score columns of each scorer (``qaq_datasets.scoring.schema``); any other columns are published as is.

Output columns
    Config ``scored``: the input rows. Config ``curated``: ``selection.apply(scored)``.

Examples
    >>> publish("me/curated-code", scored, selection)                         # doctest: +SKIP
    'http://.../datasets/me/curated-code'
    >>> publish("me/curated-code", scored, selection, dry_run="out/publish")  # doctest: +SKIP
    PosixPath('out/publish')
    >>> publish_folder("out/scored", "me/curated-code", selection_dir="out/selected")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from .._version import __version__
from ..errors import ConfigError, ConfigTypeError, PublishError, first_line
from ..files import to_builtin
from ..inputs import looks_like_hub_id
from ..scoring.schema import check_score_columns
from ..selection.result import check_fitted_on
from .card import PLAN_FILE, README, check_counts, merge_card, parse_card, rmi_examples, size_category, template
from .folder import as_dataset_dict, check_out_dir, load_selection, selection_files, write_data, write_files
from .metadata import inferred_scorers, load_scored, prefixes_for, read_card_text, text_columns_for, validate_metadata

TAGS = ["qaq", "data-selection", "synthetic", "code"]  # every card this library writes carries them

_DATA_HINT = "Configs uploaded before this step stay; nothing after it was uploaded. Publish again."
_CARD_HINT = ("The data is on the Hub, but the card, plan and report were not updated (they go in one "
              "all-or-nothing commit). Publish again.")


def selection_split(scored: DatasetDict) -> str:
    """The split of scored rows a selection is fitted on: ``train``, or the only one."""
    if "train" in scored or len(scored) == 1:
        return "train" if "train" in scored else next(iter(scored))
    raise ConfigError(f"The scored DatasetDict has splits {list(scored)}; a selection is fitted on one split. Publish "
                      "a Dataset (or a DatasetDict with a 'train' split, which the selection must match).")


def prepare(repo_id, scored, selection=None, *, source=None, license=None, curated_only=False, metadata=None):
    """Check the inputs; return ``(configs to push, card(readme_text) -> {path: bytes} of the final commit)``."""
    scored = as_dataset_dict(scored, what="scored dataset")
    meta = validate_metadata(metadata)
    split = selection_split(scored) if selection is not None else next(iter(scored))
    base = scored[split]
    prefixes = prefixes_for(meta, base.column_names, "The scored dataset")
    for name, ds in scored.items():
        check_score_columns(ds.features, prefixes, where=f"the scored dataset (split {name!r})")
    # qaq.source: a dict (dataset, license) or what `qaq score` read (a path or a Hub id)
    known = k if isinstance(k := meta.get("source"), dict) else {"dataset": str(k)} if k else {}
    src, license = source or known.get("dataset") or known.get("id"), license or known.get("license")
    hub = src if src and looks_like_hub_id(str(src)) else None  # a local path: its name only, never linked
    kept = {k: v for k, v in meta.items() if selection is not None or k not in ("selection", "fitted_on")}
    block = {**kept, "library_version": __version__, "scorers": meta.get("scorers") or inferred_scorers(prefixes)}
    if src:
        block["source"] = {**known, "dataset": hub or Path(src).name, **({"license": license} if license else {})}
    configs, keep, report, files = {} if curated_only else {"scored": scored}, None, None, {}
    if selection is not None:
        if not all(hasattr(selection, a) for a in ("plan", "report", "keep", "apply", "fitted_on")):
            raise ConfigTypeError("selection must be a qaq Selection (with .plan, .report, .keep, .apply, .fitted_on), "
                                  f"got {type(selection).__name__}.")
        block["fitted_on"] = check_fitted_on(selection.fitted_on, base, what="The selection", fix=f"re-fit the plan "
                                             f"on the rows you publish (split {split!r}): plan.fit(scored)")
        keep = np.asarray(selection.keep, dtype=bool)
        if not keep.any():
            raise ConfigError(f"The selection kept none of the {len(base)} rows; there is no curated config to "
                              "publish. Check the selection's report (drop_reasons) or publish the scored rows only.")
        configs["curated"] = DatasetDict({split: selection.apply(base)})
        report, block["selection"] = to_builtin(selection.report), to_builtin(selection.plan)
        files.update(selection_files(selection))
    elif curated_only:
        raise ConfigError("curated_only=True needs a selection (the curated rows come from it).")
    section = template("publish_section.md.j2").render(
        repo_id=repo_id, source=hub, curated_only=curated_only, configs=configs, report=report, selection_split=split,
        seed=block.get("seed"), examples=rmi_examples(base, prefixes[0], text_columns_for(meta) or {}, keep),
        checks=check_counts(base))
    fields = {"task_categories": ["text-generation"],
              "size_categories": [size_category(sum(map(len, scored.values())))], "tags": TAGS, "license": license,
              "source_datasets": [hub] if hub else None}

    def card(readme: str | None) -> dict[str, bytes]:
        return {README: merge_card(readme, fields=fields, qaq=block, section=section, title=repo_id.split("/")[-1],
                                   where=f"dataset repo {repo_id!r}").encode("utf-8"), **files}

    return configs, card


@contextlib.contextmanager
def _step(name: str, repo_id: str, token: str | None, hint: str):
    """Turn any failure inside into a PublishError naming the step (token scrubbed, cause chained)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every upload failure is re-raised as PublishError
        # one line: the error's first line and the Hub's own message (HfHubHTTPError.server_message), cut
        server = " ".join(str(getattr(exc, "server_message", None) or "").split())
        detail = f"{type(exc).__name__}: {first_line(exc, 4000)}{f' ({server})' if server else ''}"
        detail = (detail.replace(token, "***") if token else detail)[:400]  # scrubbed, then cut
        if getattr(getattr(exc, "response", None), "status_code", None) == 401:
            hint = f"The Hub refused the token: check token=, HF_TOKEN or `hf auth login`. {hint}"
        raise PublishError(f"Publishing to dataset repo {repo_id!r} failed while {name}: "
                           f"{detail.rstrip('.')}. {hint}") from exc


def _target(repo_id: str, dry_run, token: str | None, new_rows: bool) -> tuple[Path | None, str | None]:
    """``(dry-run folder, token)`` once the repo id, the folder and the token are checked (before any work);
    ``new_rows``: no selection is published, so a folder holding one would keep a stale one."""
    try:
        validate_repo_id(repo_id if repo_id is not None else "")  # it lets None through
    except HFValidationError as exc:
        raise ConfigError(f"repo_id {str(repo_id)[:120]!r} is not a valid Hub repo id: {str(exc)[:200]}") from exc
    folder = check_out_dir(dry_run, "dry-run folder", new_rows=new_rows) if dry_run is not None else None
    if folder is None and not (token := token or get_token()):
        raise PublishError("No Hugging Face token: pass token=..., set HF_TOKEN, or run `hf auth login`. Nothing was "
                           "uploaded. (Use dry_run=FOLDER to write the repo layout locally instead.)")
    return folder, token


def publish(repo_id: str, scored: Dataset | DatasetDict, selection=None, *, private: bool = False,
            token: str | None = None, dry_run: str | os.PathLike | None = None, source: str | None = None,
            license: str | None = None, curated_only: bool = False, metadata: dict | None = None,
            max_shard_size: int | str | None = None) -> str | Path:
    """Publish scored and curated rows, with their card, plan and report, to one Hub dataset repo.

    Args:
        repo_id: ``namespace/name`` of the dataset repo (created if missing).
        scored: every scored row (a ``Dataset`` → split ``train``, or a ``DatasetDict``).
        selection: a fitted ``Selection`` (``Selector.fit`` on ``scored``, or its ``train`` split), or None to
            publish the scored rows only. A selection fitted on other rows (even a shuffle of the same rows) is
            refused: its ``fitted_on`` must be the ``rows_identity`` of the rows published.
        private: create the repo private.
        token: Hub token; default ``huggingface_hub.get_token()`` (HF_TOKEN or the cached login).
        dry_run: a folder: write the exact repo layout there instead of pushing (no token needed); a new or
            empty folder, or one qaq wrote (ConfigError otherwise).
        source: the source dataset repo id (card ``source_datasets``).
        license: the data's license; default the source's when known (metadata ``source.license``).
        curated_only: push only the ``curated`` config.
        metadata: the ``qaq:`` block of the scored data (scorer recipes, seed), e.g. from ``load_scored``.
        max_shard_size: parquet shard size, as for ``push_to_hub`` (bytes or e.g. ``"500MB"``).

    Returns:
        The repo URL, or the dry-run folder.
    """
    folder, token = _target(repo_id, dry_run, token, new_rows=selection is None)
    configs, card = prepare(repo_id, scored, selection, source=source, license=license, curated_only=curated_only,
                            metadata=metadata)
    if folder is not None:
        return write_files(folder, card(str(write_data(folder, configs, max_shard_size=max_shard_size)[0])))
    # the data, then README + plan + report in one final commit
    api = HfApi(token=token)
    with _step("creating the repo and reading its card", repo_id, token, "Nothing was uploaded."):
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        readme = read_card_text(repo_id, token=token, hub=True)
    old = parse_card(readme, f"dataset repo {repo_id!r}").data.get("qaq")  # a card we could not merge: refused
    if selection is None and isinstance(old, dict) and old.get("selection"):  # before any upload
        raise ConfigError(f"The dataset repo {repo_id!r} holds a selection (config curated, {PLAN_FILE}) of the rows "
                          "published before: publish with a selection, or delete those from the repo first.")
    for name, dsdict in configs.items():
        with _step(f"uploading the data of config {name!r}", repo_id, token, _DATA_HINT):
            dsdict.push_to_hub(repo_id, config_name=name, token=token, private=private, max_shard_size=max_shard_size,
                               commit_message=f"qaq: upload config {name!r}")
    with _step("reading the card that the data upload left", repo_id, token, _CARD_HINT):
        readme = read_card_text(repo_id, token=token, hub=True)
    operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in card(readme).items()]
    with _step("uploading the card, plan and report (final commit)", repo_id, token, _CARD_HINT):
        # as huggingface_hub's own card updates: other files committed meanwhile stay, the card is ours
        api.create_commit(repo_id, operations=operations, repo_type="dataset",
                          commit_message="qaq: card, selection plan and report")
    return str(url)


def publish_folder(scored_dir: str | os.PathLike, repo_id: str, *, selection_dir: str | os.PathLike | None = None,
                   private: bool = False, dry_run: str | os.PathLike | None = None, token: str | None = None):
    """Publish a ``qaq score`` folder, with the plan of a ``qaq select`` folder re-fitted on its rows.

    The scorer recipes, license and source dataset are carried over from the scored folder's card. A
    selection folder fitted on other rows (another dataset, even of the same length) is refused
    (ConfigError). Returns what :func:`publish` returns (the repo URL or the dry-run folder).
    """
    token = _target(repo_id, dry_run, token, new_rows=selection_dir is None)[1]
    scored, metadata = load_scored(scored_dir)
    card = parse_card(read_card_text(scored_dir), f"the folder {os.fspath(scored_dir)!r}").data
    sources = card.get("source_datasets") or []
    selection = None if selection_dir is None else load_selection(selection_dir, scored[selection_split(scored)],
                                                                    text_columns_for(metadata))
    return publish(repo_id, scored, selection, private=private, token=token, dry_run=dry_run, metadata=metadata,
                   source=sources[0] if isinstance(sources, list) and len(sources) == 1 else None,
                   license=card.get("license") if card.get("license") != "unknown" else None)
