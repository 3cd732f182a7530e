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
