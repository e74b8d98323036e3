"""``publish``: scored rows, curated rows, plan, report, figures and card to one Hub dataset repo.

Order of operations (so a failure leaves a clear error and never a half-written card):

1. check everything locally (repo id, datasets, selection, token) — nothing is sent before;
2. push the data, one config at a time, with ``DatasetDict.push_to_hub(repo_id, config_name=...)``
   (parquet shards; ``datasets`` writes ``configs:``/``dataset_info:`` into the card YAML);
3. read the card ``datasets`` left, merge the generated part in, and upload README.md, the plan,
   the report and the figures in ONE commit (``HfApi.create_commit``), so the card lands whole or not at all.

A failed step raises :class:`PublishError` naming the step, with the cause chained; the token never
appears in messages, logs, the card or uploaded files. ``dry_run=FOLDER`` writes the same layout and the
same card to a local folder instead (see :mod:`.folder`).

Input columns
    The score columns of each scorer (see ``docs/architecture.md``); any other columns are published as is.

Output columns
    Config ``scored``: the input rows. Config ``curated``: ``selection.apply(scored)``.

Examples
    >>> publish("me/curated-code", scored, selection)                         # doctest: +SKIP
    'http://.../datasets/me/curated-code'
    >>> publish("me/curated-code", scored, selection, dry_run="out/publish")  # doctest: +SKIP
    PosixPath('out/publish')
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from datasets import Dataset, DatasetDict

from ..errors import ConfigError, PublishError, QAQError
from .bundle import README, Publication, build_files, qaq_block, render_assets
from .card import card_fields
from .folder import as_dataset_dict, write_data
from ..scoring.schema import check_score_columns
from .metadata import prefixes_for, validate_metadata
from .repo_id import check_repo_id
from .selection_data import SelectionData

logger = logging.getLogger(__name__)


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


@contextlib.contextmanager
def _step(name: str, repo_id: str, token: str | None, hint: str):
    """Turn any failure inside into a PublishError naming the step (token scrubbed, cause chained)."""
    try:
        yield
    except QAQError:
        raise
    except Exception as exc:  # noqa: BLE001 - every upload failure is re-raised as PublishError
        detail = _scrub(f"{type(exc).__name__}: {exc}", token).strip().rstrip(".")
        raise PublishError(f"Publishing to dataset repo {repo_id!r} failed while {name}: {detail}. {hint}") from exc


def _selection_split(scored: DatasetDict) -> str:
    if "train" in scored:
        return "train"
    if len(scored) == 1:
        return next(iter(scored))
    raise ConfigError(
        f"The scored DatasetDict has splits {list(scored)}; a selection is fitted on one split. "
        "Publish a Dataset (or a DatasetDict with a 'train' split, which the selection must match)."
    )


def _source_id(source, metadata: dict) -> str | None:
    src = source if source is not None else metadata.get("source")
    if isinstance(src, dict):
        return src.get("dataset") or src.get("id")
    return str(src) if src else None


def prepare(repo_id, scored, selection=None, *, source=None, license=None, curated_only=False,
            metadata=None, figures=None) -> tuple[dict[str, DatasetDict], Publication]:
    """Check the inputs and return ``(configs to push, Publication)`` — shared by push and dry run."""
    repo_id = check_repo_id(repo_id)
    scored = as_dataset_dict(scored, what="scored dataset")
    for split, ds in scored.items():
        if len(ds) == 0:
            raise ConfigError(f"The scored dataset's split {split!r} has no rows; nothing to publish.")
    meta = validate_metadata(metadata)
    split = _selection_split(scored) if selection is not None else next(iter(scored))
    base = scored[split]
    prefixes = prefixes_for(meta, base.column_names)
    if not prefixes:
        raise ConfigError(
            "The scored dataset has no score columns ({p}rmi, {p}nll_q, {p}status, ...) and no scorers in "
            f"metadata. Columns: {', '.join(base.column_names)}."
        )
    for name, ds in scored.items():
        check_score_columns(ds.features, prefixes, where=f"the scored dataset (split {name!r})")
    sel = SelectionData.coerce(selection, base)
    if curated_only and sel is None:
        raise ConfigError("curated_only=True needs a selection (the curated rows come from it).")
    configs: dict[str, DatasetDict] = {}
    if not curated_only:
        configs["scored"] = scored
    if sel is not None:
        curated = sel.curated
        if sum(len(d) for d in (curated.values() if isinstance(curated, DatasetDict) else [curated])) == 0:
            raise ConfigError(
                f"The selection kept none of the {len(base)} rows; there is no curated config to publish. "
                "Check the selection's report (drop_reasons) or publish the scored rows only (selection=None)."
            )
        configs["curated"] = curated if isinstance(curated, DatasetDict) else DatasetDict({split: curated})
    src_id = _source_id(source, meta)
    src_meta = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    license = license or src_meta.get("license")
    source_block = {"dataset": src_id, **({"license": license} if license else {})} if src_id else None
    block = qaq_block(meta, sel, prefixes, source_block)
    n_rows = sum(len(d) for d in scored.values())
    pub = Publication(
        repo_id=repo_id,
        base=base,
        split=split,
        selection=sel,
        metadata=block,
        fields=card_fields(n_rows=n_rows, license=license, source_datasets=[src_id] if src_id else None),
        curated_only=curated_only,
        figures=figures,
        source=src_id,
    )
    return configs, pub


def write_dry_run(folder, configs: dict[str, DatasetDict], pub: Publication, *, max_shard_size=None) -> Path:
    """Write the repo layout (data, README.md, plan, report, figures) to ``folder``."""
    folder = Path(folder).expanduser()
    assets = render_assets(pub)
    readme = write_data(folder, configs, max_shard_size=max_shard_size)
    files = build_files(readme, pub, assets)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    logger.info("Dry run: wrote %s (%d configs, %d card/aux files).", folder, len(configs), len(files))
    return folder


def _resolve_token(token: str | None) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise PublishError(
            "No Hugging Face token: pass token=..., set HF_TOKEN, or run `hf auth login`. "
            "Nothing was uploaded. (Use dry_run=FOLDER to write the repo layout locally instead.)"
        )
    return token


def _read_card(api, repo_id: str) -> tuple[str, str | None]:
    """``(head commit sha, README text or None)`` of the repo's main branch."""
    from huggingface_hub.errors import EntryNotFoundError

    parent = api.repo_info(repo_id, repo_type="dataset").sha
    try:
        path = api.hf_hub_download(repo_id, README, repo_type="dataset", revision=parent)
    except EntryNotFoundError:
        return parent, None
    return parent, Path(path).read_text(encoding="utf-8")


def _is_conflict(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) in (409, 412)


_DATA_HINT = "Configs uploaded before this step stay; nothing after it was uploaded. Publish again."
_CARD_HINT = (
    "The data is on the Hub, but the card, plan, report and figures were not updated (they go in one "
    "all-or-nothing commit). Publish again."
)


def push(repo_id: str, configs: dict[str, DatasetDict], pub: Publication, *, token: str, private: bool = False,
         max_shard_size=None, commit_message: str | None = None) -> str:
    """Push the data, then README + plan + report + figures in one final commit; return the repo URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    assets = render_assets(pub)  # figures etc. first: a local failure must not leave data without a card
    api = HfApi(token=token)
    with _step("creating the repo", repo_id, token, "Nothing was uploaded."):
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    for name, dsdict in configs.items():
        with _step(f"uploading the data of config {name!r}", repo_id, token, _DATA_HINT):
            dsdict.push_to_hub(
                repo_id, config_name=name, token=token, private=private, max_shard_size=max_shard_size,
                commit_message=f"qaq: upload config {name!r}",
            )
    for attempt in range(3):  # retried only when someone else committed in between (409/412)
        with _step("reading the card that the data upload left", repo_id, token, _CARD_HINT):
            parent, readme = _read_card(api, repo_id)
        files = build_files(readme, pub, assets)
        operations = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=data) for rel, data in files.items()]
        try:
            with _step("uploading the card, plan, report and figures (final commit)", repo_id, token, _CARD_HINT):
                api.create_commit(
                    repo_id, operations=operations, repo_type="dataset", parent_commit=parent,
                    commit_message=commit_message or "qaq: dataset card, selection plan, report and figures",
                )
            break
        except PublishError as err:
            if attempt == 2 or not _is_conflict(err.__cause__):
                raise
            logger.info("The repo changed while publishing; merging the card again (attempt %d).", attempt + 2)
    logger.info("Published %s (%s).", repo_id, ", ".join(configs))
    return str(url)


def publish(
    repo_id: str,
    scored: Dataset | DatasetDict,
    selection=None,
    *,
    private: bool = False,
    token: str | None = None,
    dry_run: str | os.PathLike | None = None,
    source: str | None = None,
    license: str | None = None,
    curated_only: bool = False,
    metadata: dict | None = None,
    figures: bool | None = None,
    max_shard_size: int | str | None = None,
    commit_message: str | None = None,
) -> str | Path:
    """Publish scored and curated rows, with their card, plan, report and figures, to one Hub dataset repo.

    Args:
        repo_id: ``namespace/name`` of the dataset repo (created if missing).
        scored: every scored row (a ``Dataset`` → split ``train``, or a ``DatasetDict``).
        selection: a fitted ``Selection``, a :class:`SelectionData` (plan, report, curated rows from files),
            or None to publish the scored rows only.
        private: create the repo private.
        token: Hub token; default ``huggingface_hub.get_token()`` (HF_TOKEN or the cached login).
        dry_run: a folder: write the exact repo layout there instead of pushing (no token needed).
        source: the source dataset repo id (card ``source_datasets``).
        license: the data's license; default the source's when known (metadata ``source.license``).
        curated_only: push only the ``curated`` config.
        metadata: the ``qaq:`` block of the scored data (scorer recipes, seed), e.g. from ``load_scored``.
        figures: draw the RMI/IFD histograms (None: when matplotlib is installed).
        max_shard_size: parquet shard size, as for ``push_to_hub``.

    Returns:
        The repo URL, or the dry-run folder.
    """
    if dry_run is None:
        check_repo_id(repo_id)
        token = _resolve_token(token)  # before any work or request
    configs, pub = prepare(
        repo_id, scored, selection, source=source, license=license, curated_only=curated_only,
        metadata=metadata, figures=figures,
    )
    if dry_run is not None:
        return write_dry_run(dry_run, configs, pub, max_shard_size=max_shard_size)
    return push(repo_id, configs, pub, token=token, private=private, max_shard_size=max_shard_size,
                commit_message=commit_message)


__all__ = ["publish", "prepare", "push", "write_dry_run"]
