#!/usr/bin/env bash
# bench/gpu-check.sh — one check of a machine with a real GPU (under 8 minutes there), one JSON out.
#
# Needs: Node >= 20.19 and `npm ci` done in this checkout; the GPU's vendor Vulkan driver (Dawn
# picks the high-performance adapter); the VGG19 weights and the example images where the project
# finds them (../shared/vgg19 and ../shared/images beside the checkout, or NEURAL_STYLE_WEIGHTS /
# NEURAL_STYLE_IMAGES). Nothing else: no network, no Python (the pytorch-cpu row is skipped
# without torch).
#
# Steps, each with its own time limit (a step that fails or times out is recorded, the rest run):
#   adapter   the adapter's info, features and limits              (bench/gpu_check.ts adapter)
#   tests     the kernel tests only: npx vitest run $GPU_CHECK_TESTS
#   kernels   the autotuner: neural-style kernels --rows $GPU_CHECK_ROWS --json (the kernel table)
#   bench     npm run bench -- --only ceiling,eval --size $GPU_CHECK_BENCH_SIZE --eval-budget 60
#             (tfjs-cpu is skipped when its estimate passes 60 s, which keeps the step short)
#   transfer  a timed run: neural-style --rows $GPU_CHECK_ROWS --iterations $GPU_CHECK_ITERATIONS --json
# then writes $GPU_CHECK_OUT (default bench/results/gpu-check.json): the adapter, every step's exit
# code and seconds, the test counts (and failures), the ceiling and eval rows, the transfer's
# seconds, evaluations, set-up seconds and final loss. Exit 0 when every step passed.
#
# Settings (environment):
#   GPU_CHECK_SMOKE=1         a smoke run on any machine (e.g. lavapipe): 64 rows, 3 iterations,
#                             bench at 64x85; the kernel tests unchanged unless GPU_CHECK_TESTS says
#   GPU_CHECK_TESTS           test files (default "test/kernels.test.ts test/style_kernels.test.ts"; "none")
#   GPU_CHECK_BENCH_SIZE      default 400x533      GPU_CHECK_ROWS        default 512
#   GPU_CHECK_ITERATIONS      default 500          GPU_CHECK_OUT         default bench/results/gpu-check.json
#   GPU_CHECK_LIMIT_S         per-step limit in seconds (default 240; the whole is bounded by the sum)
set -u
cd "$(dirname "$0")/.."

if [ "${GPU_CHECK_SMOKE:-0}" = "1" ]; then
  : "${GPU_CHECK_ROWS:=64}" "${GPU_CHECK_ITERATIONS:=3}" "${GPU_CHECK_BENCH_SIZE:=64x85}"
fi
TESTS=${GPU_CHECK_TESTS:-"test/kernels.test.ts test/style_kernels.test.ts"}
BENCH_SIZE=${GPU_CHECK_BENCH_SIZE:-400x533}
ROWS=${GPU_CHECK_ROWS:-512}
ITERATIONS=${GPU_CHECK_ITERATIONS:-500}
OUT=${GPU_CHECK_OUT:-bench/results/gpu-check.json}
LIMIT=${GPU_CHECK_LIMIT_S:-240}

command -v node >/dev/null || { echo "gpu-check: node not found (Node >= 20.19 is needed)" >&2; exit 1; }
[ -d node_modules/webgpu ] || { echo "gpu-check: node_modules/webgpu missing: run npm ci first" >&2; exit 1; }
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
mkdir -p "$(dirname "$OUT")" || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
: > "$WORK/steps.tsv"
printf '{"smoke": %s, "tests": "%s", "benchSize": "%s", "rows": %s, "iterations": %s, "stepLimitSeconds": %s}\n' \
  "$([ "${GPU_CHECK_SMOKE:-0}" = 1 ] && echo true || echo false)" "$TESTS" "$BENCH_SIZE" "$ROWS" "$ITERATIONS" "$LIMIT" > "$WORK/settings.json"

# step NAME COMMAND...: runs it with the time limit, records exit code and seconds, log in $WORK
step() {
  local name=$1; shift
  echo "gpu-check: $name: $*" >&2
  local t0; t0=$(date +%s%N)
  timeout --kill-after=10 "$LIMIT" "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%s\t%d.%d\t%s\n' "$name" "$rc" $((ms / 1000)) $(((ms % 1000) / 100)) "$*" >> "$WORK/steps.tsv"
  [ "$rc" = 0 ] || { echo "gpu-check: $name failed (exit $rc); last lines:" >&2; tail -n 15 "$WORK/$name.log" >&2; }
}

step adapter npx tsx bench/gpu_check.ts adapter "$WORK/adapter.json"
if [ "$TESTS" != "none" ]; then
  # shellcheck disable=SC2086
  step tests npx vitest run $TESTS --reporter=default --reporter=json --outputFile.json="$WORK/tests.json"
fi
# the autotuner at the transfer's size: times the candidate kernels per layer (bounded), caches the
# choices that the bench's and the transfer's runs then use, and writes its table
step kernels npx neural-style kernels --rows "$ROWS" --json "$WORK/kernels.json"
step bench npm run bench -- --only ceiling,eval --size "$BENCH_SIZE" --eval-budget 60 --out "$WORK/bench"
step transfer npx neural-style --content tubingen.jpg --style starry_night.jpg --rows "$ROWS" \
  --iterations "$ITERATIONS" --out "$WORK/transfer.png" --json "$WORK/transfer.json"

npx tsx bench/gpu_check.ts report "$WORK" "$OUT"
