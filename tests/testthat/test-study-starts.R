# The starts that represent the truth with k > k* atoms (R/study-starts.R):
# each representation reproduces the truth's regression function exactly, in
# the limit, or not at all, as ?convergence_study says; the default per gate,
# and the checks of `surplus`.

# A two-atom truth whose first atom has gating slope `slope1`; the second
# (the softmax reference) has slope 0 under the softmax gate and 2 otherwise.
rep_truth <- function(gating, expert, slope1, degree = NULL) {
  moe_params(beta0 = c(0.3, if (gating == "softmax") 0 else -1),
             beta1 = c(slope1, if (gating == "softmax") 0 else 2),
             a = if (expert == "constant") NULL else c(1, -1), b = c(0.2, 0.5),
             gating = gating, expert = expert, degree = degree)
}

# The largest deviation of a representation from the truth's regression
# function on x, relative to the largest size of a copied expert on x.
rep_deviation <- function(truth, split, surplus, x, fractions = NULL) {
  st <- sigmoe:::surplus_start(truth, truth$k + length(split), split, surplus, x, fractions)
  j <- unique(split)
  h <- sigmoe:::expert_eval(x %*% t(truth$a[j, , drop = FALSE]) + rep(truth$b[j], each = nrow(x)),
                            truth$expert, truth$degree)
  max(abs(moe_mean(st, x) - moe_mean(truth, x))) / max(abs(h))
}

rep_cases <- function() {
  experts <- list(relu = NULL, linear = NULL, gelu = NULL, constant = NULL, tanh = NULL,
                  polynomial = 2L, polynomial = 3L)
  out <- list()
  for (g in c("sigmoid", "normalized_sigmoid", "softmax"))
    for (slope1 in c(0, 3)) for (i in seq_along(experts)) for (split in list(1L, c(1L, 1L), 2L)) {
      e <- names(experts)[i]
      tr <- rep_truth(g, e, slope1, experts[[i]])
      zero <- all(tr$beta1[unique(split), ] == 0)
      out[[length(out) + 1L]] <- list(truth = tr, split = split, zero = zero, gating = g,
                                      expert = e, homogeneous = e %in% c("relu", "linear",
                                                                         "polynomial", "constant"))
    }
  out
}

test_that("each representation is exact, exact in the limit or not, as documented", {
  x <- matrix(seq(-1, 1, length.out = 801), ncol = 1)
  for (cs in rep_cases()) {
    what <- sprintf("%s gate, %s expert, split %s", cs$gating, cs$expert,
                    paste(cs$split, collapse = ","))
    # split: exact under softmax, and under the sigmoid gates at slope zero
    dev <- rep_deviation(cs$truth, cs$split, "split", x)
    if (cs$gating == "softmax" || cs$zero) expect_lt(dev, 1e-12, label = paste("split,", what))
    else expect_gt(dev, 5e-3, label = paste("split,", what))
    # dead: at most sigma(-8) of the expert's size per dead copy (sigmoid),
    # below 1e-3 for every gate
    dev <- rep_deviation(cs$truth, cs$split, "dead", x)
    expect_lt(dev, 1e-3, label = paste("dead,", what))
    expect_gt(dev, 0, label = paste("dead,", what))
    if (cs$gating == "sigmoid")
      expect_lte(dev, length(cs$split) * plogis(-8) * (1 + 1e-9), label = paste("dead,", what))
    # scaled: exact for the sigmoid gate and homogeneous experts only
    dev <- rep_deviation(cs$truth, cs$split, "scaled", x)
    if (cs$gating == "sigmoid" && cs$homogeneous) expect_lt(dev, 1e-12, label = paste("scaled,", what))
    else expect_gt(dev, 1e-2, label = paste("scaled,", what))
    # the sigmoid gate documents the three representations by the rule in the code
    expect_identical(sigmoe:::surplus_exactness("scaled", cs$gating, cs$expert, cs$zero) == "exact",
                     cs$gating == "sigmoid" && cs$homogeneous)
  }
})

test_that("scaled copies are exact for any fractions, and dead copies on a 2-d support", {
  x <- matrix(seq(-1, 1, length.out = 801), ncol = 1)
  for (e in c("relu", "linear", "polynomial")) {
    tr <- rep_truth("sigmoid", e, 3, if (e == "polynomial") 3L)
    expect_lt(rep_deviation(tr, 1L, "scaled", x, fractions = c(0.3, 0.7, 1)), 1e-12)
    expect_lt(rep_deviation(tr, c(1L, 1L), "scaled", x, fractions = c(0.1, 0.2, 0.7, 1)), 1e-12)
  }
  set.seed(3)
  x2 <- matrix(runif(2000, -1, 1), ncol = 2)
  tr <- moe_params(beta0 = c(0.3, -1), beta1 = rbind(c(2, -3), c(1, 1)), a = rbind(c(1, 0), c(0, 1)),
                   b = c(0.2, 0.5), expert = "relu")
  st <- sigmoe:::surplus_start(tr, 3, 1L, "dead", x2)
  # the copy's gate is sigma(-8) at the sample point furthest along its slope
  expect_equal(max(plogis(abs(x2 %*% st$beta1[1, ]) + st$beta0[1])), plogis(-8))
  expect_identical(unname(st$beta1[1, ]), unname(tr$beta1[1, ]))
  expect_identical(st$beta0[2:3], tr$beta0)
  # softmax: the copy's gate is e^-8 times its atom's; its reference keeps beta0 = 0
  soft <- rep_truth("softmax", "relu", 3)
  s2 <- sigmoe:::surplus_start(soft, 4, c(1L, 2L), "dead", x)
  expect_equal(s2$beta0, c(0.3 - 8, 0.3, -8, 0))
})

test_that("each gate gets an exact representation by default, recorded per gate", {
  tr <- soft_truth()
  st <- shared_study()
  # the split atom 1 has slope 3: split is exact under softmax only
  expect_identical(st$setup$surplus, c(sigmoid = "dead", softmax = "split"))
  d <- as.data.frame(st)
  expect_identical(d$surplus, unname(st$setup$surplus[d$gating]))
  flat <- moe_params(beta0 = c(0.3, -1), beta1 = c(0, 2), a = c(1, -1), b = c(0, 0.5),
                     expert = "gelu")
  z <- convergence_study(flat, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1,
                         gating = "sigmoid")
  expect_identical(z$setup$surplus, c(sigmoid = "split"))
  expect_identical(z$regime, "zero_slope")
  # atom 2 has slope 2: dead copies
  z2 <- convergence_study(flat, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1,
                          gating = "sigmoid", split = 2)
  expect_identical(z2$setup$surplus, c(sigmoid = "dead"))
  # a representation per gate
  z3 <- tiny_study(surplus = c(sigmoid = "scaled"))
  expect_identical(z3$setup$surplus, c(sigmoid = "scaled", softmax = "split"))
  expect_identical(unique(as.data.frame(z3)$start[as.data.frame(z3)$gating == "sigmoid"]), "scaled")
  # k = k*: the start is the truth
  ex <- convergence_study(tr, n = c(150, 300), reps = 1, k = 2, sd = 0.1, seed = 1)
  expect_true(all(is.na(ex$setup$surplus)))
  expect_identical(unique(as.data.frame(ex)$start), "truth")
})

test_that("bad `surplus` values are rejected with errors that name it", {
  tr <- soft_truth()
  run <- function(...) {
    args <- utils::modifyList(list(truth = tr, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1),
                              list(...))
    do.call(convergence_study, args)
  }
  expect_error(run(surplus = "half"),
               "`surplus` must be one of \"split\", \"dead\", \"scaled\", not \"half\"")
  expect_error(run(surplus = 1), "`surplus` must be NULL, one of")
  expect_error(run(surplus = NA_character_), "`surplus` must be NULL, one of")
  expect_error(run(surplus = c("split", "dead")), "`surplus` must be one of .* named by the study's gates")
  expect_error(run(surplus = c(tanh = "split")), "named by the study's gates")
  expect_error(run(surplus = "split", k = 2), "`surplus` is only used when k > k\\* \\(k = 2, k\\* = 2\\)")
  expect_error(run(surplus = "scaled"),
               "`surplus` = \"scaled\" reproduces the truth only under the sigmoid gate")
  expect_error(run(surplus = "scaled", gating = "sigmoid", expert = "gelu"),
               "`surplus` = \"scaled\" reproduces the truth only for linear, ReLU")
  expect_error(run(surplus = "dead", init = "global"), "`surplus` is only used with init = \"near_truth\"")
  expect_error(run(surplus = "dead", init = "multistart"),
               "`surplus` is only used with init = \"near_truth\"")
})

test_that("a start with fewer atoms than the truth keeps the heaviest atoms; one normalized sigmoid atom has logit 0", {
  x <- matrix(seq(-1, 1, length.out = 101))
  for (g in c("sigmoid", "normalized_sigmoid", "softmax")) {
    truth <- rep_truth(g, "relu", 3)
    w <- if (g == "softmax") exp(truth$beta0) else plogis(truth$beta0)
    keep <- which.max(w)
    st <- sigmoe:::surplus_start(truth, 1L, NULL)
    expect_identical(unname(c(st$a, st$b)), unname(c(truth$a[keep, 1], truth$b[keep])), label = g)
    # one atom under the softmax or normalized sigmoid gate: the gate is 1 and
    # the mixing measure holds its logit at 0; under the sigmoid gate the
    # atom keeps its own gate
    one <- g != "sigmoid"
    expect_equal(unname(c(st$beta0, st$beta1)),
                 if (one) c(0, 0) else unname(c(truth$beta0[keep], truth$beta1[keep, 1])),
                 tolerance = 1e-12, label = g)
    gate <- if (one) 1 else plogis(truth$beta0[keep] + truth$beta1[keep, 1] * x)
    expect_equal(moe_mean(st, x), gate * pmax(truth$a[keep, 1] * x + truth$b[keep], 0),
                 tolerance = 1e-14, ignore_attr = TRUE, label = g)
  }
  # and such a study runs from near-truth starts and from the global search
  truth <- rep_truth("normalized_sigmoid", "relu", 3)
  for (init in c("near_truth", "global")) {
    st <- convergence_study(truth, n = c(100, 200), reps = 1, k = 1, gating = "normalized_sigmoid",
                            init = init, nstart = 1, sd = 0.1, seed = 3, progress = FALSE)
    d <- as.data.frame(st)
    expect_identical(nrow(d), 2L)
    expect_true(all(is.finite(d$l2)), label = init)
  }
})
