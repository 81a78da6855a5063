#!/usr/bin/env bash
# The GPU checks and figures in one command, on a machine with a CUDA GPU and the package installed
# (nothing else is installed). From the repository root:
#
#   bash benchmarks/gpu_suite.sh            # about 15-25 minutes on one H100-class GPU
#
# Runs, each under a time limit, and prints a PASS/FAIL/SKIP summary at the end (exit status 1 if any failed):
#   1. the GPU-only tests (`pytest -m gpu`);
#   2. bench_callback_overhead.py on the EDSR-baseline x4 configuration (target: overhead <= 5%);
#   3. bench_fsds.py on the GPU at 16x3x256x256 (target <= 0.3 ms), 4x3x1020x1020 and 16x3x1020x1020
#      (target <= 3x the rfft2 floor), eager and compiled;
#   4. fits with the three monitors: a torch.compile'd network, an EMA fit (EMAWeightAveraging, when the
#      installed Lightning has it), DDP on one GPU;
#   5. FSDP on one GPU: the monitors refuse at setup with a message naming FSDPStrategy, never a hang.
# The full output goes to gpu_suite_logs/ (one file per step).
set -u
cd "$(dirname "$0")/.."
LOGS=${GPU_SUITE_LOGS:-gpu_suite_logs}
mkdir -p "$LOGS"
PY=${PYTHON:-python}
declare -a SUMMARY=()
FAILED=0

step() {  # step NAME TIMEOUT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $*"
    local start=$SECONDS
    timeout --kill-after=30 "$limit" "$@" >"$LOGS/$name.log" 2>&1
    local rc=$?
    tail -n 25 "$LOGS/$name.log"
    local verdict=PASS
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="FAIL (timed out after ${limit}s)"; FAILED=1
    elif [ $rc -ne 0 ]; then verdict="FAIL (exit $rc)"; FAILED=1; fi
    SUMMARY+=("$(printf '%-22s %-30s %4ds' "$name" "$verdict" $((SECONDS - start)))")
}

$PY - <<'PY' | tee "$LOGS/device.log"
import lightning, torch
assert torch.cuda.is_available(), "no CUDA device: this suite needs a GPU"
print(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}, lightning {lightning.__version__}")
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2

# The quickstart, short, on one GPU: the base of the fits below.
FIT=(hyra-lightning fit --config configs/quickstart.yaml --trainer.accelerator gpu --trainer.devices 1
    --trainer.max_steps 60 --trainer.val_check_interval 30 --trainer.enable_progress_bar false
    --trainer.logger.init_args.save_dir "$LOGS/fits")

step pytest_gpu 900 $PY -m pytest -q -m gpu -p no:cacheprovider tests
step overhead_edsr_x4 1200 $PY benchmarks/bench_callback_overhead.py --accelerator gpu --model edsr-baseline \
    --scale 4 --patch 48 --batch-size 16 --steps 600 --val-every 200 --probe-every 200 --val-hr-size 256
step fsds_eager 600 $PY benchmarks/bench_fsds.py --device cuda --repeats 15
step fsds_compiled 900 $PY benchmarks/bench_fsds.py --device cuda --compile --repeats 15
step fit_compiled 900 $PY benchmarks/gpu_compiled_fit.py --steps 40
if $PY -c "from lightning.pytorch.callbacks import EMAWeightAveraging" 2>/dev/null; then
    step fit_ema 900 "${FIT[@]}" --trainer.callbacks+ lightning.pytorch.callbacks.EMAWeightAveraging
else
    SUMMARY+=("$(printf '%-22s %-30s' fit_ema 'SKIP (Lightning has no EMAWeightAveraging)')")
fi
step fit_ddp_one_gpu 900 "${FIT[@]}" --trainer.strategy ddp
# FSDP: the fit must stop at setup with the monitors' message (a non-zero exit), within the time limit.
step fsdp_refusal 300 bash -c 'log=$1; shift; if "$@" >"$log" 2>&1; then echo "FSDP fit ran: no refusal"; exit 1; fi
    grep -m 1 "got FSDPStrategy" "$log"' _ "$LOGS/fsdp_fit.log" "${FIT[@]}" --trainer.strategy fsdp

echo
echo "=== summary ($(head -n 1 "$LOGS/device.log"))"
printf '%s\n' "${SUMMARY[@]}"
echo "figures: overhead in $LOGS/overhead_edsr_x4.log, FSDS in $LOGS/fsds_eager.log and $LOGS/fsds_compiled.log"
exit $FAILED
