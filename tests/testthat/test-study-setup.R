# The design of a study (R/study-setup.R): checked before anything runs, one
# task per (expert, n, replicate), each with its own L'Ecuyer stream.

test_that("the task table has one task per expert, size and replicate, each with its own stream", {
  truth <- paper_truth("same_data", "relu")
  s <- sigmoe:::study_setup(truth, n = c(100, 200, 400), reps = 3, k = 3,
                            gating = c("sigmoid", "softmax"), expert = c("relu", "linear"),
                            sd = 0.1, x_law = NULL, init = "near_truth", losses = "voronoi",
                            seed = 7, degree = NULL, split = NULL, surplus = NULL,
                            bounds = "auto", init_sd = 0.05, nstart = 2L,
                            control = moe_control(), eval_n = 500L)
  expect_length(s$tasks, 2L * 3L * 3L)
  grid <- do.call(rbind, lapply(s$tasks, function(t) data.frame(e = t$expert, n = t$n, r = t$rep)))
  expect_identical(anyDuplicated(grid), 0L)
  seeds <- vapply(s$tasks, function(t) paste(t$seed, collapse = ","), "")
  expect_identical(anyDuplicated(seeds), 0L)
  # task t's stream is the t-th next stream after the evaluation sample's
  s0 <- s$tasks[[1L]]$seed
  expect_identical(s$tasks[[2L]]$seed, parallel::nextRNGStream(s0))
  expect_identical(nrow(s$x_eval), 500L)
})

test_that("a bad design is an error before any task runs", {
  truth <- paper_truth("same_data", "relu")
  args <- list(truth = truth, n = c(100, 200), reps = 2, k = 3, gating = "sigmoid",
               expert = "relu", sd = 0.1, x_law = NULL, init = "near_truth", losses = "voronoi",
               seed = 1, degree = NULL, split = NULL, surplus = NULL, bounds = "auto",
               init_sd = 0.05, nstart = 2L, control = moe_control(), eval_n = 500L)
  bad <- function(...) do.call(sigmoe:::study_setup, utils::modifyList(args, list(...)))
  expect_error(bad(n = c(100, 100)), "`n` must have distinct sample sizes")
  expect_error(bad(n = c(5, 100)), "`n` must have every sample size >")
  expect_error(bad(surplus = "scaled", gating = "softmax"), "`surplus`")
  expect_error(bad(bounds = -1), "`bounds`")
})
