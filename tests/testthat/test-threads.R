# Threads and cores (R/threads.R).

test_that("blas_threads reads, sets and restores the BLAS thread count", {
  old <- blas_threads()
  expect_true(is.na(old) || (is.integer(old) && old >= 1L))
  if (!is.na(old)) {
    on.exit(blas_threads(old), add = TRUE)
    expect_invisible(prev <- blas_threads(1))
    expect_identical(prev, old)
    expect_identical(blas_threads(), 1L)
  }
  expect_error(blas_threads(0), "`n` must be a whole number between 1 and 1024, not 0.", fixed = TRUE)
  expect_error(blas_threads(1.5), "`n` must be a whole number between 1 and 1024")
  expect_error(blas_threads("2"), "`n`")
})

test_that("a study counts at least one worker and one core", {
  expect_gte(sigmoe:::study_workers(), 1L)
  expect_gte(sigmoe:::study_cores(), 1L)
  expect_true(is.integer(sigmoe:::study_workers()) && is.integer(sigmoe:::study_cores()))
})

test_that("a fit, its starts and its inference do not depend on the BLAS's thread count", {
  skip_on_cran()
  skip_if(is.na(blas_threads()), "the BLAS is not OpenBLAS")
  script <- tempfile(fileext = ".R")
  writeLines(c(
    "library(sigmoe)",
    "set.seed(1)",
    "n <- 20000; d <- 6",
    "x <- matrix(runif(n * d, -1, 1), n, d)",
    "p <- moe_params(c(0.2, -0.3, 0.1), matrix(rnorm(18), 3), matrix(rnorm(18), 3), c(0.1, 0.2, 0.3))",
    "y <- moe_mean(p, x) + rnorm(n, sd = 0.1)",
    "set.seed(2)",
    "f <- moe_fit(x, y, 3, nstart = 4, control = list(start_rows = 20000))",
    "v <- suppressWarnings(vcov(f))",
    "saveRDS(list(theta = f$theta, starts = f$starts, v = v, blas = blas_threads(),",
    "             gates = moe_gates(f$coefficients, x[1:2000, ])), commandArgs(TRUE)[1])"), script)
  run <- function(threads) {
    out <- tempfile(fileext = ".rds")
    status <- system2(file.path(R.home("bin"), "Rscript"), c(script, out),
                      env = c(sprintf("OPENBLAS_NUM_THREADS=%d", threads),
                              sprintf("R_LIBS=%s", paste(.libPaths(), collapse = ":"))),
                      stdout = FALSE, stderr = FALSE)
    expect_identical(status, 0L)
    readRDS(out)
  }
  one <- run(1L)
  two <- run(2L)
  expect_identical(c(one$blas, two$blas), c(1L, 2L))
  for (k in c("theta", "starts", "v", "gates")) expect_identical(one[[k]], two[[k]], label = k)
})

test_that("a forked child never deadlocks in OpenMP: it runs single-threaded", {
  skip_on_cran()
  skip_on_os("windows")
  script <- tempfile(fileext = ".R")
  writeLines(c(
    "library(sigmoe)",
    "set.seed(1); x <- runif(5000); y <- x + rnorm(5000)",
    "a <- moe_fit(x, y, 2, nstart = 1, control = list(threads = 2))$sse",
    "b <- parallel::mclapply(1:2, function(i) {",
    "  set.seed(1); moe_fit(x, y, 2, nstart = 1, control = list(threads = 2))$sse",
    "}, mc.cores = 2)",
    "set.seed(1); a <- moe_fit(x, y, 2, nstart = 1, control = list(threads = 2))$sse",
    "cat(identical(rep(a, 2), unlist(b)))"), script)
  out <- system2("timeout", c("120", file.path(R.home("bin"), "Rscript"), script),
                 env = sprintf("R_LIBS=%s", paste(.libPaths(), collapse = ":")),
                 stdout = TRUE, stderr = FALSE)
  status <- attr(out, "status")
  expect_null(status)   # timeout exits 124 on a hang
  expect_identical(utils::tail(out, 1L), "TRUE")
})

test_that("the thread rule caps by processors, thread limit, free cores and rows", {
  rule <- sigmoe:::threads_rule
  # asked, procs, limit, others (load of other processes), forked, n, rows per thread
  expect_identical(rule(2, 2, 0, 0, FALSE, 5000, 1000), 2L)    # rows pay for 5 threads
  expect_identical(rule(8, 2, 0, 0, FALSE, 1e6, 1000), 2L)     # no more than the processors
  expect_identical(rule(8, 16, 3, 0, FALSE, 1e6, 1000), 3L)    # OMP_THREAD_LIMIT
  expect_identical(rule(8, 16, 0, 0, FALSE, 4999, 1000), 4L)   # floor(4999 / 1000)
  expect_identical(rule(2, 2, 0, 0, FALSE, 1999, 1000), 1L)    # below the break-even
  expect_identical(rule(2, 2, 0, 0, FALSE, 2000, 1000), 2L)    # at it
  expect_identical(rule(2, 2, 0, 0, FALSE, 0, 1000), 1L)       # no rows: one thread
  expect_identical(rule(2, 2, 0, 0.4, FALSE, 1e6, 1000), 2L)   # load 0.4 rounds to 0
  expect_identical(rule(2, 2, 0, 0.6, FALSE, 1e6, 1000), 1L)   # load 0.6 rounds to 1
  expect_identical(rule(8, 8, 0, 2.5, FALSE, 1e6, 1000), 5L)   # 8 - 3 free (halves round up)
  expect_identical(rule(8, 8, 0, 2.49, FALSE, 1e6, 1000), 6L)  # 8 - 2
  expect_identical(rule(4, 2, 0, 7, FALSE, 1e6, 1000), 1L)     # overloaded: at least 1
  expect_identical(rule(4, 8, 0, 7, FALSE, 1e6, 1000), 1L)
  expect_identical(rule(4, 8, 0, 1, FALSE, 2500, 1000), 2L)    # the rows bind before the load
  expect_identical(rule(4, 8, 2, 1, FALSE, 1e6, 0), 2L)        # rows 0: no bound by the rows
  expect_identical(rule(4, 8, 0, 0, TRUE, 1e6, 1000), 1L)      # a forked child
  expect_identical(rule(1, 8, 0, 0, FALSE, 1e6, 1000), 1L)
})

test_that("moe_threads reports the rule, and the break-even falls as the parameters grow", {
  a <- moe_threads()
  expect_true(is.integer(a))
  expect_identical(names(a), c("requested", "processors", "thread_limit", "load", "free",
                               "forked", "available"))
  expect_identical(a[["requested"]], 1L)
  expect_identical(a[["available"]], 1L)
  b <- moe_threads(threads = 4, n = 1e6, npar = 12)
  expect_identical(names(b)[8:11], c("rows_fit", "fit", "rows_eval", "eval"))
  expect_lte(b[["available"]], min(4L, b[["processors"]], b[["thread_limit"]], b[["free"]]))
  expect_gte(b[["available"]], 1L)
  expect_gte(b[["free"]], 1L)
  expect_identical(b[["fit"]], max(1L, min(b[["available"]], 1000000L %/% b[["rows_fit"]])))
  expect_identical(b[["eval"]], max(1L, min(b[["available"]], 1000000L %/% b[["rows_eval"]])))
  few <- moe_threads(threads = 4, n = 10, npar = 12)
  expect_identical(few[["fit"]], 1L)
  expect_identical(few[["eval"]], 1L)
  big <- moe_threads(threads = 4, n = 10, npar = 110)
  expect_lte(big[["rows_fit"]], b[["rows_fit"]])
  expect_lte(big[["rows_eval"]], b[["rows_eval"]])
  expect_error(moe_threads(0), "`threads` must be a whole number between 1 and 1024", fixed = TRUE)
  expect_error(moe_threads(n = -1), "`n`")
  expect_error(moe_threads(npar = 0), "`npar`")
})

test_that("fits and evaluations are identical with 1 and 2 threads, below and above the break-even", {
  skip_on_cran()
  old <- sigmoe:::threads_tune(rows_scale = 0, load = FALSE)
  on.exit(sigmoe:::threads_tune(rows_scale = old$rows_scale, load = old$load), add = TRUE)
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                      expert = "relu")
  start <- moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5), a = c(0.8, 1.3, -0.8),
                      b = c(0.1, 0.3, 0.3), expert = "relu")
  rows <- moe_threads(2, 1e6, 12)[["rows_fit"]]
  for (n in c(max(300, rows %/% 2), 4L * rows + 17L)) {
    set.seed(3)
    d <- moe_simulate(truth, n = n, sd = 0.05)
    x <- matrix(d$x1, ncol = 1)
    fit <- function(threads, scale) {
      sigmoe:::threads_tune(rows_scale = scale)
      moe_fit(x, d$y, k = 3, start = start, nstart = 0, control = moe_control(threads = threads))
    }
    one <- fit(1L, 1)
    for (scale in c(0, 1)) {
      two <- fit(2L, scale)   # scale 0: 2 threads whatever the rows; 1: the rule
      expect_identical(two$theta, one$theta, label = sprintf("theta, n = %d, scale %g", n, scale))
      expect_identical(two$sse, one$sse)
      expect_identical(moe_mean(two$coefficients, x), moe_mean(one$coefficients, x))
      p <- one$coefficients
      expect_identical(sigmoe:::model_eval(p, x, components = TRUE, threads = 2L),
                       sigmoe:::model_eval(p, x, components = TRUE, threads = 1L))
    }
  }
})
