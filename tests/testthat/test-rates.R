# Rates of a study (R/rates.R): fitted slopes of synthetic losses, sample
# sizes, the rates the theory predicts, and argument checks.

test_that("slopes of synthetic losses with known exponents are recovered", {
  st <- synthetic_study()
  rt <- rate_table(st, B = 300)
  expect_s3_class(rt, "moe_rate_table")
  expect_identical(nrow(rt), 2L * 2L * 3L)
  truth_slope <- ifelse(rt$loss == "l2", -0.5,
                        ifelse(rt$gating == "sigmoid", -0.5, -0.25) / ifelse(rt$loss == "expert_error", 2, 1))
  expect_equal(rt$slope, truth_slope, tolerance = 0.03)
  expect_true(all(rt$lower < truth_slope & truth_slope < rt$upper))
  expect_equal(exp(rt$intercept[rt$loss == "voronoi"]), rep(3, 4), tolerance = 0.05)
  expect_identical(unique(rt$n_min), 100L)
  expect_identical(unique(rt$n_max), 10000L)
  expect_true(all(rt$theory_slope[rt$loss == "l2"] == -0.5))
  expect_output(print(rt), "a prediction, not a measurement")

  ss <- sample_size(st, eps = c(0.03, 0.01), loss = "voronoi")
  line <- rt[rt$loss == "voronoi", ]
  want <- exp((log(0.03) - line$intercept) / line$slope)
  expect_equal(ss$n[ss$eps == 0.03], want)
  expect_identical(ss$extrapolated[ss$eps == 0.03], want < 100 | want > 10000)
})

test_that("rate_table and sample_size reject bad arguments with errors that name them", {
  st <- shared_study()
  expect_error(rate_table(1), "`study` must be a `moe_study` object")
  expect_error(rate_table(st, losses = "mse"), "`losses` must name losses the study recorded")
  expect_error(rate_table(st, level = 1), "`level` must be a number in \\(0, 1\\)")
  expect_error(rate_table(st, B = -1), "`B` must be a whole number >= 0")
  expect_error(sample_size(st, eps = 0), "`eps` must be a vector of numbers > 0")
  expect_error(sample_size(st, eps = 0.1, loss = "mse"), "`loss` must name losses")
})

test_that("the rate the theory predicts is given for every case it answers", {
  # loss, gating, expert, k, k*, misspecified, init, split, then the slope and
  # label theory_rate() must give
  cases <- list(
    list("voronoi", "sigmoid", "relu", 3, 2, TRUE, "near_truth", 1, NA_real_, "none (misspecified)"),
    list("expert_error", "softmax", "linear", 3, 2, TRUE, "multistart", 1, NA_real_,
         "none (misspecified)"),
    # the regression function: n^-1/2 whatever the gate, expert and atoms
    list("l2", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.5, "n^-1/2"),
    list("l2", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, -0.5, "n^-1/2"),
    list("l2", "normalized_sigmoid", "constant", 3, 2, FALSE, "multistart", 1, -0.5, "n^-1/2"),
    # losses the theory says nothing about
    list("cell_error", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none"),
    list("sse", "softmax", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none"),
    list("voronoi", "normalized_sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error1", "normalized_sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_,
         "none stated"),
    # exact-specified atoms: n^-1/2 for every gate and expert
    list("voronoi", "sigmoid", "relu", 2, 2, FALSE, "near_truth", NULL, -0.5, "n^-1/2 (exact atoms)"),
    list("expert_error", "softmax", "linear", 2, 2, FALSE, "near_truth", NULL, -0.5,
         "n^-1/2 (exact atoms)"),
    list("voronoi", "sigmoid", "constant", 1, 2, FALSE, "near_truth", NULL, -0.5,
         "n^-1/2 (exact atoms)"),
    # per-expert columns: over-specified only for the split atoms, and only
    # with near-truth starts, whose cells are designed
    list("expert_error1", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.25,
         "n^-1/4 (over-specified)"),
    list("expert_error2", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.5,
         "n^-1/2 (exact atoms)"),
    list("expert_error2", "softmax", "gelu", 4, 2, FALSE, "near_truth", c(2, 2), -0.25,
         "n^-1/4 (over-specified)"),
    list("expert_error1", "sigmoid", "relu", 2, 2, FALSE, "near_truth", NULL, -0.5,
         "n^-1/2 (exact atoms)"),
    list("expert_error1", "sigmoid", "relu", 3, 2, FALSE, "multistart", 1, NA_real_,
         "none (cells not designed)"),
    list("expert_error", "sigmoid", "relu", 3, 2, FALSE, "multistart", 1, -0.25,
         "n^-1/4 (over-specified)"),
    # softmax with experts that interact with the gate: slower than any power
    list("voronoi", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, 0, "slower than any power"),
    list("expert_error", "softmax", "polynomial", 3, 2, FALSE, "near_truth", 1, 0,
         "slower than any power"),
    list("expert_error1", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, 0,
         "slower than any power"),
    # experts that are not second-order identifiable: no rate stated
    list("voronoi", "sigmoid", "constant", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error", "softmax", "constant", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error", "sigmoid", "linear", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("voronoi", "sigmoid", "polynomial", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated")
  )
  # identifiable experts: the Voronoi loss squares its over-specified terms,
  # the expert error shows their n^-1/4
  for (g in c("sigmoid", "softmax")) for (e in c("relu", "gelu", "sigmoid", "tanh")) {
    cases[[length(cases) + 1L]] <- list("voronoi", g, e, 3, 2, FALSE, "near_truth", 1, -0.5,
                                        "n^-1/2 (squared over terms)")
    cases[[length(cases) + 1L]] <- list("expert_error", g, e, 3, 2, FALSE, "near_truth", 1, -0.25,
                                        "n^-1/4 (over-specified)")
  }
  for (cs in cases) {
    got <- sigmoe:::theory_rate(loss = cs[[1]], gating = cs[[2]], expert = cs[[3]], k = cs[[4]],
                                kt = cs[[5]], misspecified = cs[[6]], init = cs[[7]], split = cs[[8]])
    expect_identical(got, list(slope = cs[[9]], label = cs[[10]]),
                     label = sprintf("theory_rate(%s, %s, %s, k = %d)", cs[[1]], cs[[2]], cs[[3]],
                                     as.integer(cs[[4]])))
  }
})
