#!/bin/bash
# Runs every test layer: unit tests (cmocka, ASan+UBSan build), the fuzz
# targets briefly (libFuzzer, FUZZ_SECONDS each, default 10), then the
# integration tests (real daemons, real docker CLI). Each test runs in its
# own process group with a deadline. The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

UNIT_DEADLINE=${UNIT_DEADLINE:-120}
IT_DEADLINE=${IT_DEADLINE:-300}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
LOGDIR=$(mktemp -d /tmp/shoal-tests.XXXXXX)
pass=0
fail=0
failed=()

run_one() {
    local name=$1 deadline=$2
    shift 2
    local log="$LOGDIR/${name//\//_}.log"
    local start=$SECONDS

    if timeout --kill-after=15 "$deadline" "$@" >"$log" 2>&1; then
        pass=$((pass + 1))
        printf 'ok    %-45s %3ss\n' "$name" $((SECONDS - start))
    else
        fail=$((fail + 1))
        failed+=("$name")
        printf 'FAIL  %-45s %3ss (log: %s)\n' "$name" $((SECONDS - start)) "$log"
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
}

filter=${1:-}
for t in build-san/tests/unit/*/test_*; do
    case $t in *.d) continue ;; esac
    [ -x "$t" ] || continue
    name=unit/${t#build-san/tests/unit/}
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    run_one "$name" "$UNIT_DEADLINE" "$t"
done
for t in build-fuzz/tests/fuzz/fuzz_*; do
    case $t in *.d) continue ;; esac
    [ -x "$t" ] || continue
    target=${t#build-fuzz/tests/fuzz/fuzz_}
    name=fuzz/$target
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    run_one "$name" $((FUZZ_SECONDS + 90)) \
        env FUZZ_SECONDS="$FUZZ_SECONDS" tests/fuzz/run.sh "$target"
done
for t in tests/integration/t*.sh; do
    name=integration/$(basename "$t" .sh)
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    run_one "$name" "$IT_DEADLINE" bash "$t"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
