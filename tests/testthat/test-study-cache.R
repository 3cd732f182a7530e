# The cache of a study (R/study-cache.R): resuming, recomputing lost tasks and
# refusing a different study.

test_that("an interrupted study resumes from its cache and equals an uninterrupted one", {
  full <- tiny_study()
  dir <- tempfile("study-cache-")
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)

  if (requireNamespace("future", quietly = TRUE)) {
    old_plan <- future::plan(future::sequential)
    on.exit(future::plan(old_plan), add = TRUE)
  }
  # a crash in the third task: a loss that fails on its fifth call (two
  # calls per task, one per gate) stops the study
  hook <- new.env()
  hook$fail <- TRUE
  hook$calls <- 0
  stopper <- function(fit, truth, x) {
    hook$calls <- hook$calls + 1
    if (hook$fail && hook$calls == 5) stop("simulated crash")
    0
  }
  environment(stopper) <- list2env(list(hook = hook))
  run <- function() tiny_study(cache_dir = dir, losses = list("voronoi", "expert_error", "l2",
                                                               zero = stopper))
  expect_error(run(), "simulated crash")
  # the failed task is missing; the futures of other chunks may have finished
  cached <- length(list.files(dir, pattern = "^task-"))
  expect_true(cached >= 2L && cached < 8L)
  expect_length(list.files(dir, pattern = "partial", all.files = TRUE), 0L)
  hook$fail <- FALSE
  resumed <- run()
  expect_identical(c(resumed$computed, resumed$cached), c(8L - cached, cached))
  cols <- setdiff(names(no_time(full)), character(0))
  expect_identical(no_time(resumed)[cols], no_time(full)[cols])

  # lost task files are recomputed, the others read back
  unlink(file.path(dir, c("task-000001.rds", "task-000008.rds")))
  again <- run()
  expect_identical(c(again$computed, again$cached), c(2L, 6L))
  expect_identical(no_time(again), no_time(resumed))

  # a different call on the same cache is an error, not a mix
  expect_error(tiny_study(cache_dir = dir, losses = list("voronoi", "expert_error", "l2",
                                                          zero = stopper), init_sd = 0.1),
               "holds the results of a different study .*`init_sd`")
  expect_error(tiny_study(cache_dir = dir), "differs in `losses`")
})
