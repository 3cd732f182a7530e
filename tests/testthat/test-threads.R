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
  expect_error(blas_threads(0), "`n` must be a whole number >= 1, not 0.", fixed = TRUE)
  expect_error(blas_threads(1.5), "`n` must be a whole number >= 1")
  expect_error(blas_threads("2"), "`n`")
})

test_that("a study counts at least one worker and one core", {
  expect_gte(sigmoe:::study_workers(), 1L)
  expect_gte(sigmoe:::study_cores(), 1L)
  expect_true(is.integer(sigmoe:::study_workers()) && is.integer(sigmoe:::study_cores()))
})
