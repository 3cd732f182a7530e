#!/usr/bin/env Rscript
# .ci/slurm-check.R -- checks, against a live Slurm (bash .ci/slurm.sh start),
# that futures run through future.batchtools with sigmoe's template
# inst/templates/slurm.tmpl, and measures what package tests will need.
# Not part of the package tests; sigmoe itself is not needed.
#
#   bash .ci/slurm.sh start && Rscript .ci/slurm-check.R   # from the repo root
#
# It checks that
#   1. two futures, running side by side, return the job's
#      OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS (= ncpus = 1),
#      SLURM_JOB_ID, R_LIBS and .libPaths() (the submitting session's), and a
#      small computation with stats/datasets identical to the local one;
#      a package installed only in a temporary library of the submitting
#      session (.libPaths() changed, R_LIBS not) loads in the job; a request
#      for more cpus than the node has fails in future() at once;
#   2. resources = list(ncpus = 2) gives 2 threads, SLURM_CPUS_PER_TASK = 2
#      and future::availableCores() = 2;
#   3. a job cancelled with scancel (a future sleeping 60 s; job id found with
#      squeue) makes resolved() TRUE and value() signal an error, and how long
#      that takes, polled with resolved() and waited for with value().
# and times a lone trivial future, start to value(). Exits 1 if a check fails.
#
# Measured on the 2-core Debian 12 machine, Slurm 22.05.8, batchtools 0.9.16,
# future.batchtools 0.12.0, future 1.31.0 (2026-12; 5 runs, ~45 s a run):
#   - future() returns after 1.15-1.2 s (1.4-1.55 s for the session's first):
#     batchtools sleeps scheduler.latency = 1 s after each sbatch. With
#     plan(batchtools_slurm, ..., scheduler.latency = 0.1): 0.21-0.30 s.
#   - a lone trivial future, future() to value(): 2.4-3.9 s (mostly 2.5 or
#     3.5: value() polls about once a second), the same with
#     scheduler.latency = 0.1. Of that, Slurm itself takes ~1 s from sbatch
#     to allocation and ~1.2 s to launch and end a job (`sbatch --wrap true`
#     is gone from squeue after 1.0-3.1 s); Rscript + loading batchtools and
#     future in the job ~0.8 s.
#   - two futures side by side (2 cores), both values: 5.0-6.3 s (8.0 s on
#     a cold first run); four futures on 2 cores: 6.7 s.
#   - scancel -> resolved() TRUE: 0.1-0.45 s (polled every 0.25 s; resolved()
#     calls squeue, and a job gone from it without a result is "expired");
#     scancel -> value() error: 4.6-5.3 s, whether value() was already
#     waiting or called after resolved() (waitForJobs polls ~1 s apart and
#     gives up on a job missing from squeue 3 polls in a row).
#   - a cancelled job's future signals a BatchtoolsFutureError (classes
#     BatchtoolsFutureError, FutureError, error, FutureCondition, condition)
#     whose message starts "BatchtoolsExpiration: Future ('<none>') expired
#     (registry path ...)" and ends with the job's log, whose last line is
#     "slurmstepd-<host>: error: *** JOB <id> ON <host> CANCELLED AT ... ***".
#   - a request the node can never satisfy (ncpus > its cpus, memory > its
#     RealMemory, an unknown partition) makes future() itself signal a
#     BatchtoolsFutureError "Failed to submit ... sbatch: error: ..." within
#     0.1-0.4 s (EnforcePartLimits=ALL in .ci/slurm.sh's slurm.conf; without
#     it, too many cpus left the job pending forever, reason PartitionConfig).
#   - (measured separately) walltime = 60 and a future sleeping 200 s: the
#     job is killed ~80 s after it started (Slurm checks limits every ~30 s)
#     and value() fails after 90 s with the same BatchtoolsExpiration error,
#     the log ending "*** JOB <id> ON <host> CANCELLED AT ... DUE TO TIME
#     LIMIT ***".
#   - future.batchtools keeps the registry of a failed future (in ./.future)
#     and its finalizer prints "Error : BatchtoolsExpiration ..." at gc or
#     exit unless the registry is removed (done below).
# The job sees the submitting session's environment (sbatch's default
# --export=ALL), and the template also sets R_LIBS to the submitter's
# .libPaths(): a package installed only in a temporary library is found.

failures <- character(0)
check <- function(ok, what) {
  ok <- isTRUE(ok)
  cat(if (ok) "ok  " else "FAIL", what, "\n")
  if (!ok) failures <<- c(failures, what)
  invisible(ok)
}
elapsed <- function(t0) as.numeric(difftime(Sys.time(), t0, units = "secs"))
timing <- function(what, secs) cat(sprintf("time %-48s %6.2f s\n", what, secs))

tmpl <- normalizePath("inst/templates/slurm.tmpl", mustWork = FALSE)
if (!file.exists(tmpl)) stop("run from the repository root: inst/templates/slurm.tmpl not found")
if (Sys.which("sbatch") == "" || system("sinfo -h -o %T >/dev/null 2>&1") != 0)
  stop("no Slurm cluster answering: run `bash .ci/slurm.sh start` first")
# batchtools lists jobs with `squeue --user=$USER`: without USER every job
# looks expired.
if (!nzchar(Sys.getenv("USER"))) Sys.setenv(USER = system("id -un", intern = TRUE))

suppressPackageStartupMessages({
  library(future)
  library(future.batchtools)
})
cat("batchtools", format(packageVersion("batchtools")),
    "future.batchtools", format(packageVersion("future.batchtools")),
    "future", format(packageVersion("future")), "\n")
cat(system("sinfo --version", intern = TRUE), "\n")

# future.batchtools keeps its registries in ./.future: work in a temp dir.
work <- tempfile("slurm-check-")
dir.create(work)
old_wd <- setwd(work)
on.exit({ setwd(old_wd); unlink(work, recursive = TRUE) }, add = TRUE)

res1 <- list(walltime = 600, memory = 1024, ncpus = 1)
plan(batchtools_slurm, template = tmpl, resources = res1)

Sys.setenv(SIGMOE_SLURM_PROBE = "from-submitter")
probe <- function() list(
  env = Sys.getenv(c("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "MC_CORES", "SLURM_JOB_ID", "SLURM_CPUS_PER_TASK", "R_LIBS",
                     "SIGMOE_SLURM_PROBE")),
  libpaths = .libPaths(),
  cores = unname(future::availableCores()),
  pid = Sys.getpid())
compute <- function() {
  fit <- stats::lm(dist ~ speed, data = datasets::cars)
  list(coef = stats::coef(fit), p = stats::pnorm(c(-1.96, 0, 1.96)),
       fft = stats::fft(as.numeric(1:8)))
}
local_compute <- compute()

## 1. two futures side by side --------------------------------------------
t0 <- Sys.time()
f_env <- future(probe())
t_submit <- elapsed(t0)
f_comp <- future(compute())
v_env <- value(f_env)
v_comp <- value(f_comp)
t_two <- elapsed(t0)
timing("future() call (submit)", t_submit)
timing("two futures side by side, both values", t_two)
print(v_env$env)
check(all(v_env$env[c("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                       "MC_CORES", "SLURM_CPUS_PER_TASK")] == "1"),
      "ncpus = 1: OMP/OPENBLAS/MKL threads, MC_CORES, SLURM_CPUS_PER_TASK are 1")
check(grepl("^[0-9]+$", v_env$env[["SLURM_JOB_ID"]]), "the future ran as a Slurm job")
check(v_env$pid != Sys.getpid(), "in another process")
check(identical(v_env$env[["R_LIBS"]], paste(.libPaths(), collapse = ":")),
      "R_LIBS in the job = the submitter's .libPaths()")
check(all(.libPaths() %in% v_env$libpaths), "the job's .libPaths() holds the submitter's")
check(v_env$cores == 1L, "availableCores() = 1 in the job")
cat("submitter's environment reaches the job (SIGMOE_SLURM_PROBE):",
    v_env$env[["SIGMOE_SLURM_PROBE"]] == "from-submitter", "\n")
check(identical(v_comp, local_compute), "stats/datasets computation identical to the local one")

## a lone trivial future, start to value(), three times ---------------------
lone <- function(label) {
  t <- numeric(0)
  for (i in 1:3) {
    t0 <- Sys.time()
    f <- future(1 + 1)
    t_sub <- elapsed(t0)
    check(!resolved(f), sprintf("%s: resolved() is FALSE right after submission", label))
    check(identical(value(f), 2), sprintf("%s: trivial future value", label))
    t[i] <- elapsed(t0)
    timing(sprintf("%s %d: future() call", label, i), t_sub)
    timing(sprintf("%s %d: future() to value()", label, i), t[i])
  }
  t
}
t_one <- lone("lone future")
# batchtools sleeps scheduler.latency (Slurm default 1 s) after each sbatch,
# inside future(); plan() passes scheduler.latency on to
# makeClusterFunctionsSlurm().
plan(batchtools_slurm, template = tmpl, resources = res1, scheduler.latency = 0.1)
t_fast <- lone("scheduler.latency = 0.1")
plan(batchtools_slurm, template = tmpl, resources = res1)

## a package only in a temporary library of the submitter (R CMD check's case)
tmplib <- file.path(work, "lib")
pkgdir <- file.path(work, "slurmprobe")
dir.create(tmplib)
dir.create(file.path(pkgdir, "R"), recursive = TRUE)
writeLines(c("Package: slurmprobe", "Version: 0.0.1", "Title: Probe", "Description: Probe.",
             "License: MIT", "Authors@R: person('a', 'b', role = c('aut', 'cre'), email = 'a@b.c')"),
           file.path(pkgdir, "DESCRIPTION"))
writeLines("export(probe_answer)", file.path(pkgdir, "NAMESPACE"))
writeLines("probe_answer <- function() 42L", file.path(pkgdir, "R", "probe.R"))
install_log <- system2(file.path(R.home("bin"), "R"),
                       c("CMD", "INSTALL", "--no-test-load", "-l", shQuote(tmplib), shQuote(pkgdir)),
                       stdout = TRUE, stderr = TRUE)
old_libs <- .libPaths()
.libPaths(c(tmplib, old_libs))  # changes .libPaths(), not the R_LIBS variable
v_lib <- value(future(slurmprobe::probe_answer()))
check(identical(v_lib, 42L), "a package only in the submitter's temporary library loads in the job")
.libPaths(old_libs)

## a request the node can never satisfy fails in future(), at once ----------
plan(batchtools_slurm, template = tmpl,
     resources = list(walltime = 600, memory = 1024, ncpus = parallel::detectCores() + 1L))
t0 <- Sys.time()
e_big <- tryCatch(future(1), error = identity)
timing("future() with ncpus > the node's cpus fails", elapsed(t0))
check(inherits(e_big, "FutureError") && grepl("sbatch", conditionMessage(e_big)),
      "ncpus > the node's cpus: future() signals a FutureError from sbatch")
cat(strsplit(conditionMessage(e_big), "\n")[[1]][1:2], sep = "\n")

## 2. ncpus = 2 --------------------------------------------------------------
plan(batchtools_slurm, template = tmpl,
     resources = list(walltime = 600, memory = 1024, ncpus = 2))
v2 <- value(future(probe()))
check(all(v2$env[c("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "MC_CORES", "SLURM_CPUS_PER_TASK")] == "2") && v2$cores == 2L,
      "ncpus = 2: threads, MC_CORES, SLURM_CPUS_PER_TASK, availableCores() are 2")
plan(batchtools_slurm, template = tmpl, resources = res1)

## 3. scancel of a running job -----------------------------------------------
squeue <- function() {
  out <- system2("squeue", c(paste0("--user=", Sys.getenv("USER")), "-h", "-o", "'%i %T %j'"),
                 stdout = TRUE)
  if (!length(out)) return(data.frame(id = character(0), state = character(0), name = character(0)))
  p <- strsplit(trimws(out), " +")
  data.frame(id = vapply(p, `[`, "", 1), state = vapply(p, `[`, "", 2),
             name = vapply(p, `[`, "", 3))
}
# Submits a future that sleeps 60 s, waits until its job runs, cancels it.
start_and_cancel <- function() {
  before <- squeue()$id
  f <- future({ Sys.sleep(60); "not cancelled" })
  id <- NA_character_
  t0 <- Sys.time()
  while (elapsed(t0) < 60) {
    q <- squeue()
    new <- q[!q$id %in% before & q$state == "RUNNING", ]
    if (nrow(new) == 1L) { id <- new$id; break }
    Sys.sleep(0.2)
  }
  if (is.na(id)) stop("the sleeping job did not show up as RUNNING in squeue")
  bt_id <- batchtools::getJobTable(reg = f$config$reg)$batch.id
  check(identical(bt_id, id), "squeue's job id is batchtools' batch.id")
  Sys.sleep(3)  # let R start inside the job and reach Sys.sleep()
  check(!resolved(f), "resolved() is FALSE while the job runs")
  t_cancel <- Sys.time()
  system2("scancel", id)
  list(f = f, id = id, t_cancel = t_cancel)
}

# (a) polled with resolved()
cc <- start_and_cancel()
while (!resolved(cc$f) && elapsed(cc$t_cancel) < 120) Sys.sleep(0.25)
t_resolved <- elapsed(cc$t_cancel)
timing(sprintf("scancel %s -> resolved() TRUE", cc$id), t_resolved)
err <- tryCatch(value(cc$f), error = identity)
timing(sprintf("scancel %s -> value() error (after resolved)", cc$id), elapsed(cc$t_cancel))
check(inherits(err, "error"), "value() of a cancelled job signals an error")
cat("error class:", paste(class(err), collapse = ", "), "\n")
cat("error message:\n", conditionMessage(err), "\n")
check(inherits(err, "FutureError") && grepl("BatchtoolsExpiration", conditionMessage(err)),
      "it is a FutureError saying BatchtoolsExpiration")
check(grepl("CANCELLED", conditionMessage(err)), "its message has the job log with CANCELLED")
# future.batchtools keeps the registry of a failed future (in ./.future) and
# its finalizer, at gc or exit, calls result() again and prints the error as
# "Error : BatchtoolsExpiration ...". Removing the registry silences that.
unlink(cc$f$config$reg$file.dir, recursive = TRUE)

# (b) waited for with value()
cc <- start_and_cancel()
err2 <- tryCatch(value(cc$f), error = identity)
t_value <- elapsed(cc$t_cancel)
timing(sprintf("scancel %s -> value() error (blocking)", cc$id), t_value)
check(inherits(err2, "FutureError"), "blocking value() of a cancelled job: FutureError")
unlink(cc$f$config$reg$file.dir, recursive = TRUE)

cat("\nsummary: submit", sprintf("%.2f", t_submit), "s; lone future", paste(sprintf("%.2f", t_one), collapse = "/"),
    "s; with scheduler.latency = 0.1", paste(sprintf("%.2f", t_fast), collapse = "/"),
    "s; two side by side", sprintf("%.2f", t_two), "s; cancel->resolved",
    sprintf("%.2f", t_resolved), "s; cancel->value", sprintf("%.2f", t_value), "s\n")
if (length(failures)) {
  cat(length(failures), "check(s) failed:", paste(failures, collapse = "; "), "\n")
  quit(status = 1)
}
cat("all checks passed\n")
