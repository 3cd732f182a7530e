# Convergence studies (R/study.R): the results table, reproducibility, the
# truth in each gate's parameterisation and argument checks.

test_that("a study has one row per expert, gating, n and replicate", {
  st <- shared_study()
  d <- as.data.frame(st)
  expect_s3_class(st, "moe_study")
  expect_identical(nrow(d), 2L * 2L * 2L * 2L)
  expect_identical(nrow(unique(d[c("expert", "gating", "n", "rep")])), nrow(d))
  expect_true(all(c("init", "surplus", "start", "voronoi", "expert_error", "expert_error1",
                    "expert_error2", "l2", "sse", "sse_gap", "code", "converged", "iterations",
                    "at_bound", "seconds", "seed") %in% names(d)))
  expect_true(is.integer(d$at_bound) && is.double(d$sse_gap) && is.character(d$start))
  # both gates are fitted to the same data: same task, same seed
  expect_identical(d$seed[d$gating == "sigmoid"], d$seed[d$gating == "softmax"])
  expect_false(any(d$misspecified))
  expect_identical(st$regime, "nonzero_slope")
  expect_output(print(st), "Convergence study")
})

test_that("a study with fewer experts than the truth states no rate", {
  st <- convergence_study(soft_truth(), n = c(100, 200), reps = 1, k = 1, sd = 0.1, seed = 3,
                          expert = "relu", losses = c("voronoi", "l2"))
  expect_identical(st$regime, "under_specified")
  expect_output(print(st), "regime of the truth: under_specified")
  expect_output(print(st), "n: 2 sizes in \\[100, 200\\]; 1 replicate; sd")
  tab <- rate_table(st, B = 0)
  expect_true(all(is.na(tab$theory_slope)))
  expect_true(all(tab$theory == "none (k < k*: under-specified)"))
})

test_that("a study is reproducible from its seed and leaves the session's RNG alone", {
  set.seed(2024)
  before <- .Random.seed
  a <- tiny_study()
  expect_identical(.Random.seed, before)
  b <- tiny_study()
  expect_identical(no_time(a), no_time(b))
  c <- tiny_study(seed = 12)
  expect_false(identical(no_time(a)$sse, no_time(c)$sse))
})

test_that("the truth is converted between gates where the models coincide", {
  x <- seq(-1, 1, by = 0.05)
  soft <- soft_truth()
  sig <- sigmoe:::truth_for_gate(soft, "sigmoid")
  expect_identical(sig$gating, "sigmoid")
  expect_equal(moe_mean(sig, x), moe_mean(soft, x))
  back <- sigmoe:::truth_for_gate(sig, "softmax")
  expect_equal(back$beta0, soft$beta0)
  expect_equal(back$beta1, soft$beta1)
  # sigma(z) + sigma(-z) = 1: the normalized sigmoid gate with opposite
  # logits is the same model, and with one expert the softmax and normalized
  # sigmoid gates are both 1
  x2 <- cbind(x, rev(x))
  soft2 <- moe_params(beta0 = c(0.5, 0), beta1 = rbind(c(3, -1), 0), a = rbind(c(1, 0.5), c(-1, 1)),
                      b = c(0.2, 0.1), gating = "softmax", expert = "gelu")
  for (tr in list(soft, soft2)) {
    xx <- if (tr$d == 1L) x else x2
    nsig <- sigmoe:::truth_for_gate(tr, "normalized_sigmoid")
    expect_identical(nsig$gating, "normalized_sigmoid")
    expect_equal(moe_mean(nsig, xx), moe_mean(tr, xx), tolerance = 1e-14)
    sig2 <- sigmoe:::truth_for_gate(tr, "sigmoid")
    expect_equal(moe_mean(sigmoe:::truth_for_gate(sig2, "normalized_sigmoid"), xx), moe_mean(tr, xx),
                 tolerance = 1e-14)
    expect_equal(moe_mean(sigmoe:::truth_for_gate(nsig, "softmax"), xx), moe_mean(tr, xx),
                 tolerance = 1e-14)
    expect_equal(moe_mean(sigmoe:::truth_for_gate(nsig, "sigmoid"), xx), moe_mean(tr, xx),
                 tolerance = 1e-14)
  }
  lopsided <- moe_params(beta0 = c(0.5, 0.2), beta1 = c(3, -3), a = c(1, -1), b = c(0.2, 0.1),
                         gating = "normalized_sigmoid", expert = "relu")
  expect_null(sigmoe:::truth_for_gate(lopsided, "softmax"))
  expect_null(sigmoe:::truth_for_gate(lopsided, "sigmoid"))
  one <- moe_params(beta0 = 0, beta1 = 0, a = 1.5, b = 0.3, gating = "softmax", expert = "relu")
  one_ns <- sigmoe:::truth_for_gate(one, "normalized_sigmoid")
  expect_equal(moe_mean(one_ns, x), moe_mean(one, x))
  expect_null(sigmoe:::truth_for_gate(one, "sigmoid"))
  expect_null(sigmoe:::truth_for_gate(moe_params(1, 2, 1.5, 0.3, expert = "relu"), "softmax"))
  st <- convergence_study(soft, n = c(200, 300), reps = 1, k = 3, sd = 0.1, seed = 1,
                          gating = c("softmax", "normalized_sigmoid"), losses = c("voronoi", "l2"))
  expect_false(any(st$misspecified))
  expect_true(all(is.finite(as.data.frame(st)$voronoi)))
  # no identity for three experts: the other gate is misspecified, and said so
  three <- moe_params(beta0 = c(0.5, -0.5, 0), beta1 = c(3, -3, 0), a = c(1, -1, 0.5),
                      b = c(0.2, 0.1, 0), gating = "softmax", expert = "relu")
  expect_null(sigmoe:::truth_for_gate(three, "sigmoid"))
  expect_message(
    st <- convergence_study(three, n = c(200, 300), reps = 1, k = 3, sd = 0.1, seed = 1, nstart = 2),
    "the sigmoid fits are misspecified")
  d <- as.data.frame(st)
  expect_identical(d$misspecified, d$gating == "sigmoid")
  expect_true(all(is.na(d$voronoi[d$gating == "sigmoid"])))
  expect_true(all(is.finite(d$voronoi[d$gating == "softmax"])))
  expect_identical(unique(d$init[d$gating == "sigmoid"]), "multistart")
  expect_output(print(st), "NOTE: the sigmoid gate is misspecified")
})

test_that("bad arguments are rejected with errors that name them", {
  tr <- soft_truth()
  run <- function(...) {
    args <- utils::modifyList(list(truth = tr, n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 1),
                              list(...))
    do.call(convergence_study, args)
  }
  expect_error(run(truth = 1), "`truth` must be a `moe_params` object")
  expect_error(run(n = c(150, 2.5)), "`n` must be a vector of whole numbers")
  expect_error(run(n = c(150, 150)), "`n` must have distinct sample sizes")
  expect_error(run(n = c(5, 300)), "`n` must have every sample size > 12")
  expect_error(run(reps = 0), "`reps` must be a whole number (>= 1|between 1 and)")
  expect_error(run(k = 1.5), "`k` must be a whole number")
  expect_error(run(gating = "tanh"), "`gating` must be one of")
  expect_error(run(gating = c("sigmoid", "sigmoid")), "`gating` must not repeat")
  expect_error(run(expert = "quadratic"), "`expert` must be one of")
  expect_error(run(expert = "polynomial"), "`degree` must be given")
  expect_error(run(expert = "constant"), "`expert` includes \"constant\"")
  expect_error(run(sd = -1), "`sd` must be a single finite number >= 0")
  expect_error(run(x_law = 3), "`x_law` must be NULL or a function")
  expect_error(run(x_law = function(n, d) 1:3), "`x_law` must return an n x d numeric matrix")
  expect_error(run(init = "random"), "`init` must be one of \"near_truth\", \"global\", \"multistart\"")
  expect_error(run(losses = "mse"), "`losses` must name built-in losses")
  expect_error(run(losses = list(function(fit, truth, x) 0)), "must have a syntactic name")
  expect_error(run(losses = list(sse = function(fit, truth, x) 0)), "the name of a column")
  expect_error(run(seed = "a"), "`seed` must be a whole number")
  expect_error(run(split = 1, k = 2), "`split` is only used when k > k\\*")
  expect_error(run(split = 3), "`split` must be a vector of 1 true atom number in 1..2")
  expect_error(run(init_sd = -0.1), "`init_sd` must be")
  expect_error(run(nstart = 0), "`nstart` must be a whole number (>= 1|between 1 and)")
  expect_error(run(control = list(maxit = 10, speed = 2)), "`control` has unknown setting")
  expect_error(run(eval_n = 10), "`eval_n` must be a whole number (>= 100|between 100 and)")
  expect_error(run(progress = "yes"), "`progress` must be TRUE or FALSE")
  expect_error(run(cache_dir = 3), "`cache_dir` must be NULL or a directory path")
  f <- tempfile()
  writeLines("x", f)
  on.exit(unlink(f), add = TRUE)
  expect_error(run(cache_dir = f), "`cache_dir` must be a directory")
  expect_error(run(nstarts = 2), "Unknown argument `nstarts`")
  expect_error(convergence_study(tr, n = 100, reps = 1, k = 2, sd = 0.1), "`seed` must be given")
})
