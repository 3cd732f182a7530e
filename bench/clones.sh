#!/usr/bin/env bash
# Checks that the three compiled versions of sigmoe's row kernels (AVX-512,
# AVX2 and baseline x86-64; MOE_CLONES in src/sigmoe.h) give bit-identical
# results: model values, Jacobians, gates and experts for every gate x expert,
# and whole fits.
#   - AVX-512: the normal build, on a CPU that has it;
#   - baseline: the same sources built with -DMOE_CLONES= (no clones);
#   - AVX2: the normal build under valgrind, which hides AVX-512 from the CPU
#     (fits are left out there: valgrind also changes OpenBLAS's kernels).
# Then it measures what the clones buy: bench/ab.R times the baseline build (A)
# against the native one (B) in interleaved child processes; a ratio B / A
# below 1 is the speed-up of the dispatched kernels.
# Run from the package root; writes bench/clones.out. Needs valgrind.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
mkdir -p "$work/lib_native" "$work/lib_base" "$work/src_base"
tar --exclude='*.o' --exclude='*.so' --exclude='.git' -cf - . | tar -xf - -C "$work/src_base"
echo 'PKG_CPPFLAGS = -DMOE_CLONES=' >> "$work/src_base/src/Makevars"
R CMD INSTALL --preclean --no-test-load -l "$work/lib_native" . > "$work/native.log" 2>&1
R CMD INSTALL --preclean --no-test-load -l "$work/lib_base" "$work/src_base" > "$work/base.log" 2>&1
digest="$root/bench/clones-digest.R"
{
  echo "sigmoe kernel clones: bit-identity check (bench/clones.sh)"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //') x$(nproc)"
  echo "cpu has: $(grep -m1 -o -w 'avx512f' /proc/cpuinfo || echo 'no avx512f') $(grep -m1 -o -w 'avx2' /proc/cpuinfo || echo 'no avx2')"
  echo "clones in the native build: $(nm "$work/lib_native/sigmoe/libs/sigmoe.so" | grep -c '\.avx512f$') avx512f, $(nm "$work/lib_native/sigmoe/libs/sigmoe.so" | grep -c '\.avx2$') avx2"
  echo "clones in the baseline build: $(nm "$work/lib_base/sigmoe/libs/sigmoe.so" | grep -c '\.avx' || true)"
} > bench/clones.out
Rscript "$digest" "$work/lib_native" "$work/native_fits.rds" fits
Rscript "$digest" "$work/lib_base" "$work/base_fits.rds" fits
Rscript "$digest" "$work/lib_native" "$work/native.rds" nofits
R -d "valgrind -q" --vanilla --slave -f "$digest" --args "$work/lib_native" "$work/avx2.rds" nofits
Rscript -e '
w <- commandArgs(TRUE)[1]
r <- function(f) readRDS(file.path(w, f))
a <- r("native.rds"); v <- r("avx2.rds"); af <- r("native_fits.rds"); bf <- r("base_fits.rds")
cat(sprintf("settings: %d gate x expert pairs, %d rows each\n", length(a), length(a[[1]]$mean)))
cat(sprintf("native vs baseline, values and fits identical: %s\n", identical(af, bf)))
cat(sprintf("native vs AVX2 (valgrind), values identical:   %s\n", identical(a, v)))
' "$work" >> bench/clones.out
Rscript bench/ab.R "$work/lib_base" "$work/lib_native" --rounds=${ROUNDS:-7} --out="$work/ab.out" > /dev/null
{
  echo
  echo "speed: A = baseline x86-64 kernels (-DMOE_CLONES=), B = dispatched clones (native build)"
  sed -n '/^ *case/,$p' "$work/ab.out"
} >> bench/clones.out
cat bench/clones.out
rm -rf "$work"
