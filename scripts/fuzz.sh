#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (a package of their own, so the main build never
# sees -sanitize=fuzzer) and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 30, or $FUZZ_SECONDS)
#
# New inputs go to Fuzz/.build/corpus/<target>/; the committed seeds in Fuzz/Corpus/<target>/
# are only read. A crash leaves its input in Fuzz/.build/artifacts/<target>/ and fails the run.
# `FUZZ_WRITE_SEEDS=DIR <built target>` rewrites a target's seeds (for the targets
# that have a seed writer) after an encoding changes.
set -euo pipefail
seconds="${1:-${FUZZ_SECONDS:-30}}"
targets=(FuzzFrameDecoder FuzzDHTMessage FuzzDHTRecords FuzzSafeTensors FuzzRunConfig
         FuzzAveragingPayloads FuzzRunRecords FuzzAccessToken)
cd "$(dirname "$0")/../Fuzz"
flags=(-c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
# ld.gold warns about every ASan helper symbol; keep the output readable.
swift build "${flags[@]}" 2>&1 | grep -v "Cannot export local symbol" || true
bin="$(swift build "${flags[@]}" --show-bin-path)"
for target in "${targets[@]}"; do
    [ -x "$bin/$target" ] || { echo "fuzz: $target was not built" >&2; exit 1; }
    mkdir -p ".build/corpus/$target" ".build/artifacts/$target"
    echo "fuzz: $target for ${seconds}s"
    # Swift's own crash handler trips ASan while it reads the stack; libFuzzer reports instead.
    SWIFT_BACKTRACE=enable=no "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=".build/artifacts/$target/" ".build/corpus/$target" "Corpus/$target"
done
