#!/bin/bash
# Runs libFuzzer targets from build-fuzz/tests/fuzz (make FUZZ=1 fuzz-bin):
# each for FUZZ_SECONDS (default 60) over its committed corpus
# (tests/fuzz/corpus/<target>: seeds and regression inputs) and generated
# seeds (seeds.py), failing on any crash, leak or hang (-timeout).
# Usage: tests/fuzz/run.sh [target...]   (default: all built targets)
set -eu
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BIN=build-fuzz/tests/fuzz
WORK=build-fuzz/fuzz-work

max_len() {
    case $1 in
    ca_token) echo 256 ;;
    image) echo 24576 ;;
    *) echo 4096 ;;
    esac
}

python3 tests/fuzz/seeds.py "$WORK/seeds"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for b in "$BIN"/fuzz_*; do
        case $b in *.d) continue ;; esac
        targets+=("${b#"$BIN"/fuzz_}")
    done
fi

rc=0
for t in "${targets[@]}"; do
    corpus=$WORK/corpus/$t
    # Targets make their scratch directories under TMPDIR; libFuzzer may
    # leave without running exit handlers, so the run cleans up after them.
    scratch=$PWD/$WORK/tmp/$t
    rm -rf "$scratch"
    mkdir -p "$corpus" "$WORK/artifacts" tests/fuzz/corpus/"$t" \
        "$WORK/seeds/$t" "$scratch"
    echo "fuzz_$t: ${FUZZ_SECONDS}s"
    # -timeout: one input taking 10 s is a hang. The outer timeout bounds
    # the whole run (start-up, merging the corpus, the final leak check).
    if ! TMPDIR=$scratch timeout --kill-after=10 $((FUZZ_SECONDS + 60)) \
        "$BIN/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -artifact_prefix="$WORK/artifacts/$t-" -print_final_stats=1 \
        "$corpus" tests/fuzz/corpus/"$t" "$WORK/seeds/$t"; then
        echo "fuzz_$t: FAILED (inputs in $WORK/artifacts/)"
        rc=1
    fi
    rm -rf "$scratch"
done
exit $rc
