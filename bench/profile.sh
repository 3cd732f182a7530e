#!/usr/bin/env bash
# Where a study's time goes: perf's sampling profile of a reduced Figure 1
# study (the design of bench/study.R, 4 replicates: 320 fits, run
# sequentially in one process so that every sample lands in it), by function,
# for each of the given installs of sigmoe.
#
#   bash bench/profile.sh NAME=LIB [NAME=LIB ...]   # writes bench/profile.out
#
# LIB is a library holding an install of sigmoe (R CMD INSTALL -l LIB .).
# Needs perf (Debian: linux-perf) and permission to use it (root, or
# kernel.perf_event_paranoid <= 2). Run from the package root.
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: bash bench/profile.sh NAME=LIB [NAME=LIB ...]" >&2; exit 2; }
command -v perf > /dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/study.R" <<'EOF'
lib <- Sys.getenv("SIGMOE_LIB")
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))
truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "softmax", expert = "relu")
future::plan("sequential")
t <- system.time(st <- convergence_study(
  truth, n = round(10^seq(3, 5, length.out = 20)), reps = 4, k = 3,
  gating = c("sigmoid", "softmax"), expert = c("relu", "linear"), sd = 0.1,
  seed = 20240513, init = "near_truth", progress = FALSE))[["elapsed"]]
cat(sprintf("study: %.1f s elapsed under perf, %.1f s in fits\n", t, sum(as.data.frame(st)$seconds)))
EOF
out=bench/profile.out
{
  echo "sigmoe: where a reduced study's time goes (bench/profile.sh)"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "R:       $(R --version | head -1)"
  echo "study:   the design of bench/study.R with 4 replicates (320 fits), sequential"
  echo "profile: perf record (cycles), self time by shared object and function, top 15"
} > "$out"
for arg in "$@"; do
  name=${arg%%=*}
  lib=${arg#*=}
  echo >> "$out"
  echo "== $name ($lib)" >> "$out"
  SIGMOE_LIB="$lib" perf record -q -o "$work/perf.data" Rscript "$work/study.R" >> "$out" 2> "$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio > "$work/report" 2> /dev/null
  grep -E '^ +[0-9.]+%' "$work/report" | sed -E 's/ +$//; s/ +- +-$//' > "$work/top"
  head -15 "$work/top" >> "$out"
done
cat "$out"
