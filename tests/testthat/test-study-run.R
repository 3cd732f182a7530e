# Running the tasks of a study (R/study-run.R): the same results under any
# plan, near-truth starts and the random stream of each gate.

test_that("results are identical under sequential and multisession plans", {
  skip_on_cran()
  skip_if_not_installed("future.apply")
  skip_if_not_installed("future")
  # the workers must find this installation of sigmoe
  old_libs <- Sys.getenv("R_LIBS")
  Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
  old_plan <- future::plan(future::sequential)
  on.exit({
    future::plan(old_plan)
    Sys.setenv(R_LIBS = old_libs)
  }, add = TRUE)
  a <- tiny_study()
  future::plan(future::multisession, workers = 2)
  b <- tiny_study()
  expect_identical(b$workers, 2L)
  expect_identical(no_time(a), no_time(b))
})

test_that("near-truth starts split atoms without changing the regression function", {
  x <- seq(-1, 1, by = 0.05)
  soft <- soft_truth()
  sig <- sigmoe:::truth_for_gate(soft, "sigmoid")
  # splitting the softmax reference atom, re-expressed relative to its last copy
  s1 <- sigmoe:::near_truth_start(soft, 4, split = c(2, 2), init_sd = 0)
  expect_identical(s1$k, 4L)
  expect_equal(moe_mean(s1, x), moe_mean(soft, x))
  expect_equal(s1$beta0, c(0.5 + log(3), 0, 0, 0))
  expect_equal(as.numeric(voronoi_loss(s1, soft)), 0, tolerance = 1e-14)
  # sigmoid: two copies with half the weight each; the regression function
  # is unchanged only when the split atom has a zero gating slope
  s2 <- sigmoe:::near_truth_start(sig, 3, split = 1, init_sd = 0)
  expect_equal(plogis(s2$beta0[1:2]), rep(plogis(sig$beta0[1]) / 2, 2))
  expect_equal(unname(s2$beta1[1:2, 1]), rep(unname(sig$beta1[1, 1]), 2))
  expect_equal(as.numeric(voronoi_loss(s2, sig)), 0, tolerance = 1e-14)
  flat <- moe_params(beta0 = c(0.3, -1), beta1 = c(0, 2), a = c(1, -1), b = c(0, 0.5),
                     expert = "gelu")
  s4 <- sigmoe:::near_truth_start(flat, 4, split = c(1, 1), init_sd = 0)
  expect_equal(moe_mean(s4, x), moe_mean(flat, x))
  # noise comes from the RNG
  set.seed(1)
  s3 <- sigmoe:::near_truth_start(sig, 3, split = 1, init_sd = 0.05)
  expect_false(isTRUE(all.equal(s3$b, s2$b)))
})

test_that("gate g starts from the g-th sub-stream of its task's stream", {
  s <- sigmoe:::with_rng(1L, .Random.seed)
  substream <- function(seed, times) {
    for (i in seq_len(times)) seed <- parallel::nextRNGSubStream(seed)
    seed
  }
  expect_identical(sigmoe:::gate_seed(s, "sigmoid"), substream(s, 1L))
  expect_identical(sigmoe:::gate_seed(s, "softmax"), substream(s, 2L))
  expect_identical(sigmoe:::gate_seed(s, "normalized_sigmoid"), substream(s, 3L))
})
