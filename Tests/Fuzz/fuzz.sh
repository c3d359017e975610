#!/bin/sh
# Runs every fuzz target of the libFuzzer build (.build-fuzz, made by `make fuzz`) once.
#   Tests/Fuzz/fuzz.sh -max_total_time=60     or     Tests/Fuzz/fuzz.sh -runs=1000000
# Corpora grow in .build-fuzz/corpus/TARGET; a crash, leak, timeout or out-of-memory input is
# written to .build-fuzz/findings and makes the script fail. Fixed findings belong in
# Tests/Fuzz/regressions/TARGET, which the tests replay.
set -u
limit="$1"
seeds() {
    case "$1" in
        onnx) echo "Tests/Fuzz/seeds/onnx Tests/WhittleTests/Fixtures Tests/Differential/cases" ;;
        npy) echo "Tests/Fuzz/seeds/npy" ;;
        npz) echo "Tests/Fuzz/seeds/npz" ;;
        target) echo "Targets" ;;
    esac
}
mkdir -p .build-fuzz/findings
status=0
for target in onnx npy npz target; do
    mkdir -p ".build-fuzz/corpus/$target"
    log=".build-fuzz/$target.log"
    # shellcheck disable=SC2046 # the seed folders are words
    if .build-fuzz/debug/whittle-fuzz "$target" "$limit" -timeout=30 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix=".build-fuzz/findings/$target-" ".build-fuzz/corpus/$target" $(seeds "$target") > "$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
        coverage=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*$')
        echo "$target: $runs executions, $coverage edges, no finding"
    else
        tail -40 "$log"
        echo "finding in $target: see .build-fuzz/findings"
        status=1
    fi
done
exit $status
