# Studies on a live Slurm cluster through future.batchtools and the shipped
# template (inst/templates/slurm.tmpl): the numbers of plan(sequential), a
# job cancelled mid-study that loses only its unfinished tasks, and a cache
# of another design refused. CI starts the cluster (`bash .ci/slurm.sh
# start` in .ci/run); elsewhere these tests are skipped without one, but
# with CI=true a missing cluster is a failure.

# NULL when a cluster answers and future.batchtools is installed, else why not.
slurm_missing <- function() {
  if (!requireNamespace("future.batchtools", quietly = TRUE)) return("future.batchtools is not installed")
  if (Sys.which("sbatch") == "" || Sys.which("sinfo") == "" || Sys.which("scancel") == "")
    return("the Slurm client programs (sbatch, sinfo, scancel) are not on the PATH")
  state <- suppressWarnings(tryCatch(
    system2("timeout", c("20", "sinfo", "-h", "-o", "%T"), stdout = TRUE, stderr = FALSE),
    error = function(e) character(0)))
  if (!length(state) || !any(sub("[*~#]$", "", state) %in% c("idle", "mixed", "allocated", "completing")))
    return(sprintf("no Slurm node is up (sinfo: %s)",
                   if (length(state)) paste(state, collapse = " ") else "no answer"))
  NULL
}

# Skip without a cluster, fail without one under CI; else set up a plan on
# the shipped template for the rest of the calling test.
local_slurm_plan <- function(env = parent.frame()) {
  why <- slurm_missing()
  if (!is.null(why) && identical(Sys.getenv("CI"), "true"))
    stop("CI=true but ", why, ": .ci/run must start Slurm (bash .ci/slurm.sh start)", call. = FALSE)
  skip_on_cran()
  if (!is.null(why)) skip(paste("no Slurm cluster:", why))
  tmpl <- system.file("templates", "slurm.tmpl", package = "sigmoe")
  expect_true(nzchar(tmpl))
  # batchtools lists jobs with `squeue --user=$USER`: without USER every job
  # looks expired
  old_user <- Sys.getenv("USER", NA)
  if (!nzchar(Sys.getenv("USER"))) Sys.setenv(USER = system2("id", "-un", stdout = TRUE))
  # registries of failed futures stay where future.batchtools keeps them
  reg <- tempfile("future-")
  old_opt <- options(future.cache.path = reg)
  old_plan <- suppressWarnings(future::plan(
    future.batchtools::batchtools_slurm, template = tmpl, scheduler.latency = 0.1,
    resources = list(walltime = 300, memory = 512, ncpus = 1)))
  do.call(on.exit, list(bquote({
    future::plan(.(old_plan))
    options(.(old_opt))
    unlink(.(reg), recursive = TRUE)
    if (is.na(.(old_user))) Sys.unsetenv("USER") else Sys.setenv(USER = .(old_user))
  }), add = TRUE), envir = env)
  invisible(tmpl)
}

# The reference: the same call under plan(sequential), in this session.
sequential_study <- function(...) {
  old <- future::plan(future::sequential)
  on.exit(future::plan(old), add = TRUE)
  tiny_study(...)
}

slurm_jobs <- function() {
  out <- system2("squeue", c(paste0("--user=", Sys.getenv("USER")), "-h", "-o", "%i"), stdout = TRUE)
  trimws(out[nzchar(trimws(out))])
}

test_that("a study on Slurm has the numbers of plan(sequential)", {
  local_slurm_plan()
  ref <- sequential_study()
  # 8 tasks of 300 or 600 rows: two jobs of 1,800 rows
  st <- tiny_study(chunk_rows = 1800)
  expect_identical(st$chunks, 2L)
  expect_identical(no_time(st), no_time(ref))
})

test_that("a job cancelled mid-study loses only its unfinished tasks, and a rerun resumes", {
  local_slurm_plan()
  work <- tempfile("study-slurm-")
  dir.create(work)
  on.exit(unlink(work, recursive = TRUE), add = TRUE)
  cache <- file.path(work, "cache")
  # A loss that, in a Slurm job and while the flag file exists, has the
  # first job to reach its second task cancel itself with scancel (the lock
  # directory lets one job only). Its environment (the paths, a call counter
  # per job) is not part of the study's design.
  cancel <- function(fit, truth, x) {
    job <- Sys.getenv("SLURM_JOB_ID")
    if (nzchar(job) && file.exists(flag)) {
      hook$calls <- hook$calls + 1
      # two calls per task (one per gate): the third opens the second task
      if (hook$calls == 3 && dir.create(lock, showWarnings = FALSE)) {
        system2("scancel", job)
        Sys.sleep(120)
      }
    }
    0
  }
  environment(cancel) <- list2env(list(flag = file.path(work, "flag"), lock = file.path(work, "lock"),
                                       hook = list2env(list(calls = 0))), parent = globalenv())
  losses <- list("voronoi", "expert_error", "l2", cancel = cancel)
  file.create(file.path(work, "flag"))
  t0 <- Sys.time()
  expect_error(tiny_study(cache_dir = cache, losses = losses, chunk_rows = 1800),
               paste0("The study did not finish: the future of chunk [12] \\(4 tasks\\) failed: ",
                      "BatchtoolsExpiration.*CANCELLED.*holds the 5 tasks finished so far"))
  expect_lt(as.numeric(Sys.time() - t0, units = "secs"), 120)
  expect_true(dir.exists(file.path(work, "lock")))
  # the other job's four tasks and the cancelled job's first are cached
  files <- list.files(cache, pattern = "^task-[0-9]+\\.rds$", full.names = TRUE)
  expect_length(files, 5L)
  expect_length(slurm_jobs(), 0L)
  expect_length(list.files(cache, pattern = "^\\.(partial|run)-", all.files = TRUE), 0L)
  stamps <- file.mtime(files)

  # the same call again computes the three lost tasks and nothing else
  unlink(file.path(work, "flag"))
  st <- tiny_study(cache_dir = cache, losses = losses, chunk_rows = 1800)
  expect_identical(c(st$computed, st$cached), c(3L, 5L))
  expect_identical(file.mtime(files), stamps)
  expect_length(list.files(cache, pattern = "^task-[0-9]+\\.rds$"), 8L)
  expect_identical(no_time(st), no_time(sequential_study(losses = losses)))

  # a different design on the same cache is refused, also when study.rds is gone
  expect_error(tiny_study(cache_dir = cache, losses = losses, chunk_rows = 1800, init_sd = 0.1),
               sprintf("`cache_dir` \"%s\" holds the results of a different study .*`init_sd`",
                       normalizePath(cache)))
  unlink(file.path(cache, "study.rds"))
  expect_error(tiny_study(cache_dir = cache, losses = losses, init_sd = 0.1),
               sprintf("`cache_dir` \"%s\" holds the results of a different study: 8 task files",
                       normalizePath(cache)))
  expect_length(slurm_jobs(), 0L)
})
