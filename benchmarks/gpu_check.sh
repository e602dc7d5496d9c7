#!/usr/bin/env bash
# The GPU tests, then the GPU benchmark: about 6 minutes at most on one H100.
#
#   benchmarks/gpu_check.sh [bench_gpu.py options]     e.g. --dtypes float64,float32
#
# Run from anywhere; the skbait of this checkout is the one imported. With $OUT set, each
# part's output is also saved there (env.txt, gpu_tests.txt, bench_gpu.txt, status.txt).
# Exits non-zero when the tests fail, the benchmark's CPU/GPU picks differ, or a part
# runs out of time (exit status 124).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-}"
save() { if [ -n "$out" ]; then mkdir -p "$out" && tee "$out/$1"; else cat; fi; }

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null \
        || echo "nvidia-smi: not available"
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available())"
} 2>&1 | save env.txt

timeout 120 python -u -m pytest -q -m gpu tests 2>&1 | save gpu_tests.txt
tests=${PIPESTATUS[0]}
timeout 230 python -u benchmarks/bench_gpu.py "$@" 2>&1 | save bench_gpu.txt
bench=${PIPESTATUS[0]}
echo "gpu tests: exit $tests; benchmark: exit $bench (124 = timed out)" | save status.txt
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
