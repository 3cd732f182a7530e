# Randomness of the package's own streams (R/rng.R): reproducible, and the
# session's generator left exactly as it was.

test_that("with_rng reproduces a draw and puts the session's state back", {
  kind <- RNGkind()
  set.seed(7)
  before <- .Random.seed
  a <- sigmoe:::with_rng(123L, runif(3))
  expect_identical(.Random.seed, before)
  expect_identical(RNGkind(), kind)
  expect_identical(sigmoe:::with_rng(123L, runif(3)), a)
  # a number seeds L'Ecuyer-CMRG, the generator of the study streams
  set.seed(123L, kind = "L'Ecuyer-CMRG", normal.kind = "Inversion", sample.kind = "Rejection")
  want <- runif(3)
  RNGkind(kind[1], kind[2], kind[3])
  expect_identical(a, want)
  # a .Random.seed vector is a state to start from
  set.seed(7)
  s <- sigmoe:::with_rng(5L, .Random.seed)
  expect_identical(sigmoe:::with_rng(s, rnorm(2)), sigmoe:::with_rng(s, rnorm(2)))
  expect_identical(.Random.seed, before)
  expect_identical(RNGkind(), kind)
})

test_that("with_rng restores the state even when the expression fails", {
  set.seed(8)
  before <- .Random.seed
  expect_error(sigmoe:::with_rng(1L, {runif(1); stop("boom")}), "boom")
  expect_identical(.Random.seed, before)
})

test_that("a session without a .Random.seed is left without one", {
  saved <- sigmoe:::rng_save()
  on.exit(sigmoe:::rng_restore(saved), add = TRUE)
  rm(".Random.seed", envir = globalenv())
  sigmoe:::with_rng(1L, runif(1))
  expect_false(exists(".Random.seed", envir = globalenv(), inherits = FALSE))
  expect_identical(RNGkind()[1], saved$kind[1])
})
