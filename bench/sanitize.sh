#!/usr/bin/env bash
# Sanitizer job for sigmoe's C core: builds the package with AddressSanitizer
# and UBSan into a private temporary library, runs the testthat suite and the
# stress set bench/sanitize-stress.R against that build, and fails on any
# sanitizer report, test failure or crash.
#
#   bash bench/sanitize.sh                    build the last commit (git archive HEAD)
#   bash bench/sanitize.sh --worktree         build the working tree, uncommitted edits too
#   bash bench/sanitize.sh --self-test        inject a one-byte heap overflow; must exit 1
#   bash bench/sanitize.sh --self-test=ubsan  inject a signed integer overflow; must exit 1
#   bash bench/sanitize.sh --self-test=leak   inject a malloc never freed; must exit 1
#   options: --no-tests, --no-stress, --no-leaks (LeakSanitizer off),
#            --keep (keep the temporary directory)
#
# Run from anywhere; it works on a copy (git archive HEAD, or the work tree
# without .git, src/*.o and src/*.so) in a temporary directory, so the work
# tree is never touched. The tests run from the copy's root, so they are the
# tests of the code that was built. The stress set is the one next to this
# script. Ends with the line
#   sanitize: N tests passed, N failed; stress: N calls; sanitizer reports: N
# and exits 0 only when every test passed, every stress section finished and
# no sanitizer spoke. On failure the temporary directory (logs, build) is kept
# and its path printed.
#
# Measured 2026-12-02 (commit 354112d; 2 cores shared with other jobs, load
# 4-7; gcc 12.2, R 4.2.2): a full run took 11 min 14 s wall, 4.5 min of CPU:
# build 19 s, test suite 6 min (4957 expectations), stress 4.9 min (11
# sections, 22,412 calls). At load ~5 (leak checks off) a run took 5 min 45 s.
# The machine's load, not the job's CPU, sets the wall time.
#
# What it checks, and how:
# - Build: CFLAGS/LDFLAGS from a temporary user Makevars (R_MAKEVARS_USER):
#   -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow
#   -fno-sanitize-recover=undefined,float-cast-overflow (float-cast-overflow,
#   a double too large for an int, is UB that -fsanitize=undefined leaves out
#   in gcc). The script checks that the shared object really is instrumented.
# - R_alloc: every scratch buffer of the C code comes from R_alloc, which ASan
#   cannot see into: R serves buffers up to 128 bytes from its own pages, and
#   a larger one gets R's extra byte rounded up to 8, so writing one double
#   past it is silent. The build therefore force-includes a header that routes
#   the package's R_alloc calls to a shim (added to the copy's src/) which
#   takes a larger R_alloc block (a malloc of its own) and returns its end, so
#   that the first byte past any buffer is ASan's redzone. (Checked: one past
#   a 3-double buffer is caught with the shim, missed without.) Underflows
#   below a buffer land in R's vector header and stay invisible.
# - Runtime: R is not built with ASan, so libasan (and libubsan) is
#   LD_PRELOADed into every R process, children included (the suite's
#   Rscript, mclapply and future-worker subprocesses), with R_LIBS pointing
#   at the ASan build. ASAN_OPTIONS: abort on the first error; ASan keeps its
#   own SEGV handler (R's would hide the report); reports go to files
#   (log_path), so that those of subprocesses whose stderr a test discards
#   are still counted. UBSan halts on the first error and prints a stack; it
#   ignores log_path here (gcc 12), so its reports are read from the captured
#   output (a child whose stderr is discarded then fails its test instead).
#   OMP_WAIT_POLICY=PASSIVE: on a loaded 2-core machine, OpenMP threads that
#   spin at barriers made two-thread passes ~15x slower under ASan.
# - Leaks: detect_leaks=1. LeakSanitizer reports only blocks that nothing
#   points to at exit, and R keeps its heap reachable from its globals, so R
#   itself reports nothing (measured: the whole suite and stress set). Two
#   suppressions (a file in the work directory) remove what does leak:
#   leak:/usr/bin/ (sed in R's shell front end leaks a byte each start) and
#   leak:libfontconfig.so (its caches, filled by the plot tests, are never
#   freed). A suppression matches any frame of an allocation's stack, so
#   neither may name libR or the package, and none does: the R processes'
#   stacks run through /usr/lib/R, never /usr/bin. sigmoe itself allocates
#   only through R (R_alloc, allocVector) today; this catches a malloc
#   without its free, should one appear. --no-leaks turns it off.
# - Reports: the lines "ERROR: AddressSanitizer", "runtime error:" and
#   "ERROR: LeakSanitizer" in the output and the report files; a crash
#   without a report (R's "caught segfault", a non-zero exit) fails too.
# - Tests: testthat's test_dir("tests/testthat", package = "sigmoe",
#   load_package = "installed") with NOT_CRAN=true, as in .ci/tests.R.
# - Stress: bench/sanitize-stress.R, one process per section (a report ends
#   its process; the other sections still run).
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

root=$(cd "$(dirname "$0")/.." && pwd)
stress_script="$root/bench/sanitize-stress.R"
mode=head
self_test=""
run_tests=1
run_stress=1
keep=0
leaks=1
for arg in "$@"; do
  case "$arg" in
    --worktree) mode=worktree ;;
    --self-test | --self-test=asan) self_test=asan ;;
    --self-test=ubsan) self_test=ubsan ;;
    --self-test=leak) self_test=leak ;;
    --no-tests) run_tests=0 ;;
    --no-stress) run_stress=0 ;;
    --keep) keep=1 ;;
    --no-leaks) leaks=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "sanitize: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

cc=$(R CMD config CC | awk '{print $1}')
asan_rt=$("$cc" -print-file-name=libasan.so)
ubsan_rt=$("$cc" -print-file-name=libubsan.so)
if [ ! -e "$asan_rt" ] || [ ! -e "$ubsan_rt" ]; then
  echo "sanitize: R's compiler ($cc) has no libasan.so/libubsan.so; this job needs gcc's." >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sigmoe-sanitize.XXXXXX")
pkg="$work/pkg"
lib="$work/lib"
san="$work/reports"
mkdir -p "$pkg" "$lib" "$san"
finish() {
  local status=$1
  if [ "$keep" -eq 1 ] || [ "$status" -ne 0 ]; then
    echo "sanitize: logs and build kept in $work"
  else
    rm -rf "$work"
  fi
}
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }

# ---- the copy -----------------------------------------------------------
if [ "$mode" = head ]; then
  echo "sanitize: building $(git -C "$root" rev-parse --short HEAD) (git archive HEAD)"
  git -C "$root" archive --format=tar HEAD | tar -x -C "$pkg" || { echo "sanitize: git archive failed" >&2; finish 1; exit 2; }
else
  echo "sanitize: building the working tree of $root"
  # others may be writing files while tar reads them: a changed file is fine
  tar -C "$root" --exclude=./.git --exclude='./src/*.o' --exclude='./src/*.so' \
      --warning=no-file-changed -cf - . | tar -x -C "$pkg"
  [ "${PIPESTATUS[0]}" -le 1 ] || { echo "sanitize: copying the work tree failed" >&2; finish 1; exit 2; }
fi
if grep -Eq '^[[:space:]]*OBJECTS' "$pkg"/src/Makevars* 2>/dev/null; then
  echo "sanitize: src/Makevars sets OBJECTS; add sanitize_alloc.o to it in this script" >&2
  finish 1; exit 2
fi

# The R_alloc shim (see the header): the package's calls R_alloc(n, size)
# become sigmoe_sanitize_R_alloc(n, size), also in R's own declaration of
# R_alloc, which thereby declares the shim.
cat > "$work/sanitize_alloc.h" <<'EOF'
#define R_alloc(nelem, eltsize) sigmoe_sanitize_R_alloc(nelem, eltsize)
EOF
cat > "$pkg/src/sanitize_alloc.c" <<'EOF'
/* Added by bench/sanitize.sh to its build copy only. R_alloc(n, 1) gives a
 * raw vector of n + 1 bytes whose data area is rounded up to a multiple of 8;
 * above 128 bytes R mallocs it on its own, with the data area at the end of
 * the block. So ask for area - 1 bytes, area a multiple of 8 and >= 264, and
 * hand out the last `bytes` of it: the next byte is ASan's redzone. */
#include <R.h>
#include <limits.h>
#include <stdlib.h>
#undef R_alloc
char *R_alloc(size_t, int);

char *sigmoe_sanitize_R_alloc(size_t nelem, int eltsize)
{
    size_t bytes = nelem * (size_t) eltsize;
    if (bytes == 0) return NULL;   /* as R_alloc */
    size_t want = bytes < 256 ? 256 : bytes;
    size_t area = (want + 8 + 7) / 8 * 8;
    char *p = R_alloc(area - 1, 1) + (area - bytes);
#if defined(SIGMOE_SANITIZE_SELF_TEST) && SIGMOE_SANITIZE_SELF_TEST == 1
    ((volatile char *) p)[bytes] = 1;   /* --self-test: one byte past the buffer */
#elif defined(SIGMOE_SANITIZE_SELF_TEST) && SIGMOE_SANITIZE_SELF_TEST == 2
    volatile int big = INT_MAX;        /* --self-test=ubsan: signed overflow */
    big += (int) (bytes > 0);
#elif defined(SIGMOE_SANITIZE_SELF_TEST) && SIGMOE_SANITIZE_SELF_TEST == 3
    char *volatile lost = malloc(24);  /* --self-test=leak: never freed */
    lost[0] = 1;
#endif
    return p;
}
EOF
inject=""
case "$self_test" in
  asan) inject="-DSIGMOE_SANITIZE_SELF_TEST=1"; echo "sanitize: self-test: every R_alloc writes one byte past its buffer" ;;
  ubsan) inject="-DSIGMOE_SANITIZE_SELF_TEST=2"; echo "sanitize: self-test: every R_alloc overflows an int" ;;
  leak) inject="-DSIGMOE_SANITIZE_SELF_TEST=3"; echo "sanitize: self-test: every R_alloc leaks a malloc" ;;
esac
sanflags="-fsanitize=address,undefined,float-cast-overflow"
cat > "$work/Makevars" <<EOF
CFLAGS = -O1 -g -fno-omit-frame-pointer $sanflags -fno-sanitize-recover=undefined,float-cast-overflow -include $work/sanitize_alloc.h $inject
LDFLAGS = $sanflags
EOF

# ---- the build ------------------------------------------------------------
# No test load: the instrumented object loads only with libasan preloaded.
if ! R_MAKEVARS_USER="$work/Makevars" R CMD INSTALL --no-test-load -l "$lib" "$pkg" > "$work/install.log" 2>&1; then
  tail -n 40 "$work/install.log"
  echo "sanitize: the build failed (log: $work/install.log)"
  echo "sanitize: 0 tests passed, 0 failed; stress: 0 calls; sanitizer reports: 0"
  finish 1; exit 1
fi
so="$lib/sigmoe/libs/sigmoe.so"
symbols=$(nm "$so"; nm -D "$so")
if ! grep -q '__asan_report' <<< "$symbols" || ! grep -q '__ubsan_handle' <<< "$symbols" ||
   ! grep -q 'sigmoe_sanitize_R_alloc' <<< "$symbols"; then
  echo "sanitize: $so is not instrumented (no ASan/UBSan calls or no R_alloc shim)" >&2
  finish 1; exit 1
fi
echo "sanitize: built with $sanflags in $(elapsed) s"

# ---- the sanitizer environment --------------------------------------------
cat > "$work/lsan.supp" <<'EOF'
# R's shell front end: sed leaks a byte in every R start
leak:/usr/bin/
# fontconfig's caches (the plot tests) live until exit by design
leak:libfontconfig.so
EOF
r_libs="$lib${R_LIBS:+:$R_LIBS}"
san_env=(
  LD_PRELOAD="$asan_rt $ubsan_rt"
  ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1:halt_on_error=1:allow_user_segv_handler=0:print_summary=1:log_path=$san/asan"
  LSAN_OPTIONS="suppressions=$work/lsan.supp:print_suppressions=0"
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
  R_LIBS="$r_libs"
  NOT_CRAN=true
  OMP_WAIT_POLICY=PASSIVE
)
# "$@" in the sanitizer environment, from a shell of its own, so that an
# abort shows in the command's log rather than as a message of this script.
# The same as a script in the work directory, to re-run a failing command.
san_run() { bash -c 'env "$@"; exit $?' sanitize "${san_env[@]}" "$@"; }
printf '#!/usr/bin/env bash\n# runs "$@" in the environment of bench/sanitize.sh\nexec env%s "$@"\n' \
  "$(printf " %q" "${san_env[@]}")" > "$work/san-env.sh"
# Report files of the processes of one phase, appended to its log.
collect() {
  local log=$1 f
  for f in "$san"/*; do
    [ -e "$f" ] || continue
    { echo "==== sanitizer report file $(basename "$f")"; cat "$f"; } >> "$log"
    rm -f "$f"
  done
}

# ---- the test suite --------------------------------------------------------
passed=0; failed=0; skipped=0; tests_ok=1
if [ "$run_tests" -eq 1 ]; then
  echo "sanitize: running the test suite (tests/testthat of the built copy)"
  tests_r='
lib <- commandArgs(TRUE)[1]
.libPaths(c(lib, .libPaths()))
Sys.setenv(NOT_CRAN = "true")
suppressPackageStartupMessages({ library(testthat); library(sigmoe) })
cat("sigmoe loaded from", getLoadedDLLs()[["sigmoe"]][["path"]], "\n")
res <- test_dir("tests/testthat", package = "sigmoe", load_package = "installed",
                reporter = ProgressReporter$new(show_praise = FALSE),
                stop_on_failure = FALSE)
tab <- as.data.frame(res)
cat(sprintf("\nsanitize-tests: %d passed, %d failed, %d skipped\n", sum(tab$passed),
            sum(tab$failed) + sum(tab$error), sum(tab$skipped)))
'
  (cd "$pkg" && san_run Rscript -e "$tests_r" "$lib") > "$work/tests.log" 2>&1
  rc=$?
  collect "$work/tests.log"
  line=$(grep -E '^sanitize-tests: ' "$work/tests.log" | tail -n 1)
  if [ -n "$line" ]; then
    read -r passed failed skipped <<< "$(echo "$line" | sed -E 's/[^0-9]+/ /g')"
  fi
  if ! grep -q "sigmoe loaded from $lib/" "$work/tests.log"; then
    tests_ok=0; echo "sanitize: the tests did not load the sanitizer build"
  fi
  if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
    tests_ok=0; echo "sanitize: the test run died (exit status $rc) before its summary"
  fi
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || tests_ok=0
  echo "sanitize: tests: $passed passed, $failed failed, $skipped skipped ($(elapsed) s so far)"
  if [ "$failed" -gt 0 ]; then
    grep -E '^(── |Failure|Error) ' "$work/tests.log" | head -n 20
  fi
fi

# ---- the stress set ----------------------------------------------------------
calls=0; stress_ok=1
if [ "$run_stress" -eq 1 ]; then
  sections=$(san_run Rscript "$stress_script" --list 2>> "$work/stress.log")
  [ -n "$sections" ] || { stress_ok=0; echo "sanitize: the stress script did not start"; }
  for s in $sections; do
    (cd "$work" && san_run Rscript "$stress_script" --section="$s") > "$work/stress-$s.log" 2>&1
    rc=$?
    collect "$work/stress-$s.log"
    cat "$work/stress-$s.log" >> "$work/stress.log"
    n=$(sed -nE 's/^stress: ([0-9]+) calls.*/\1/p' "$work/stress-$s.log" | tail -n 1)
    if [ "$rc" -ne 0 ] || [ -z "$n" ]; then
      stress_ok=0
      echo "sanitize: stress section $s died (exit status $rc); its last call is the last one printed by"
      echo "  (cd $work && bash san-env.sh Rscript $stress_script --section=$s --trace)"
    else
      calls=$((calls + n))
      echo "sanitize: stress section $s: $n calls"
    fi
  done
fi

# ---- the verdict ------------------------------------------------------------
pattern='ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer'
logs=("$work/install.log")
[ -f "$work/tests.log" ] && logs+=("$work/tests.log")
[ -f "$work/stress.log" ] && logs+=("$work/stress.log")
reports=$(cat "${logs[@]}" | grep -Ec "$pattern")
crashes=$(cat "${logs[@]}" | grep -c 'caught segfault')
if [ "$reports" -gt 0 ] || [ "$crashes" -gt 0 ]; then
  echo "sanitize: first reports (with their first frames):"
  cat "${logs[@]}" | grep -E -A 8 "$pattern|caught segfault" | grep -vE '^\s+#([9]|[1-9][0-9]+) ' | head -n 60
fi
echo "sanitize: total $(elapsed) s"
echo "sanitize: $passed tests passed, $failed failed; stress: $calls calls; sanitizer reports: $reports"
status=0
[ "$reports" -eq 0 ] && [ "$crashes" -eq 0 ] && [ "$tests_ok" -eq 1 ] && [ "$stress_ok" -eq 1 ] || status=1
if [ -n "$self_test" ]; then
  if [ "$reports" -gt 0 ]; then echo "sanitize: self-test: the injected defect was reported (exit 1 expected)"
  else echo "sanitize: self-test: the injected defect was NOT reported"; fi
fi
finish "$status"
exit "$status"
