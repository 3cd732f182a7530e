# Convergence studies: reproducibility, plans, caching, truth conversion,
# rate fitting and argument checks. Studies here are tiny (milliseconds per fit).

soft_truth <- function(expert = "relu") {
  moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1), b = c(0.2, 0.1),
             gating = "softmax", expert = expert)
}

tiny_study <- function(..., seed = 11) {
  convergence_study(soft_truth(), n = c(150, 300), reps = 2, k = 3, sd = 0.1, seed = seed,
                    expert = c("relu", "linear"), ...)
}

no_time <- function(study) {
  d <- as.data.frame(study)
  d[setdiff(names(d), "seconds")]
}

test_that("a study has one row per expert, gating, n and replicate", {
  st <- tiny_study()
  d <- as.data.frame(st)
  expect_s3_class(st, "moe_study")
  expect_identical(nrow(d), 2L * 2L * 2L * 2L)
  expect_identical(nrow(unique(d[c("expert", "gating", "n", "rep")])), nrow(d))
  expect_true(all(c("voronoi", "expert_error", "expert_error1", "expert_error2", "l2", "sse",
                    "code", "converged", "iterations", "seconds", "seed") %in% names(d)))
  # both gates are fitted to the same data: same task, same seed
  expect_identical(d$seed[d$gating == "sigmoid"], d$seed[d$gating == "softmax"])
  expect_false(any(d$misspecified))
  expect_identical(st$regime, "nonzero_slope")
  expect_output(print(st), "Convergence study")
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

test_that("one cell replays alone from its seed", {
  st <- tiny_study()
  d <- no_time(st)
  cell <- study_replay(st, gating = "softmax", n = 300, rep = 2, expert = "linear")
  row <- d[d$gating == "softmax" & d$n == 300 & d$rep == 2 & d$expert == "linear", ]
  rownames(row) <- NULL
  got <- cell$result[setdiff(names(cell$result), "seconds")]
  expect_identical(got, row)
  expect_s3_class(cell$fit, "moe_fit")
  expect_identical(nrow(cell$data), 300L)
  expect_identical(cell$fit$sse, row$sse)
})

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

test_that("the truth is converted between gates where the models coincide", {
  x <- seq(-1, 1, by = 0.05)
  soft <- soft_truth()
  sig <- sigmoe:::truth_for_gate(soft, "sigmoid")
  expect_identical(sig$gating, "sigmoid")
  expect_equal(moe_mean(sig, x), moe_mean(soft, x))
  back <- sigmoe:::truth_for_gate(sig, "softmax")
  expect_equal(back$beta0, soft$beta0)
  expect_equal(back$beta1, soft$beta1)
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

test_that("slopes of synthetic losses with known exponents are recovered", {
  st <- tiny_study()
  n <- round(10^seq(2, 4, length.out = 7))
  grid <- expand.grid(rep = 1:30, n = n, expert = c("relu", "linear"),
                      gating = c("sigmoid", "softmax"), stringsAsFactors = FALSE)
  set.seed(1)
  noise <- function() exp(rnorm(nrow(grid), 0, 0.1))
  slope <- ifelse(grid$gating == "sigmoid", -0.5, -0.25)
  grid$voronoi <- 3 * grid$n^slope * noise()
  grid$expert_error <- 0.5 * grid$n^(slope / 2) * noise()
  grid$l2 <- grid$n^-0.5 * noise()
  st$results <- grid
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

  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_identical(plot(st), st)
  if (requireNamespace("ggplot2", quietly = TRUE))
    expect_s3_class(ggplot2::autoplot(st, loss = "l2"), "ggplot")
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
  expect_error(run(reps = 0), "`reps` must be a whole number >= 1")
  expect_error(run(k = 1.5), "`k` must be a whole number")
  expect_error(run(gating = "tanh"), "`gating` must be one of")
  expect_error(run(gating = c("sigmoid", "sigmoid")), "`gating` must not repeat")
  expect_error(run(expert = "quadratic"), "`expert` must be one of")
  expect_error(run(expert = "polynomial"), "`degree` must be given")
  expect_error(run(expert = "constant"), "`expert` includes \"constant\"")
  expect_error(run(sd = -1), "`sd` must be a single finite number >= 0")
  expect_error(run(x_law = 3), "`x_law` must be NULL or a function")
  expect_error(run(x_law = function(n, d) 1:3), "`x_law` must return an n x d numeric matrix")
  expect_error(run(init = "random"), "`init` must be one of")
  expect_error(run(losses = "mse"), "`losses` must name built-in losses")
  expect_error(run(losses = list(function(fit, truth, x) 0)), "must have a syntactic name")
  expect_error(run(losses = list(sse = function(fit, truth, x) 0)), "the name of a column")
  expect_error(run(seed = "a"), "`seed` must be a whole number")
  expect_error(run(split = 1, k = 2), "`split` is only used when k > k\\*")
  expect_error(run(split = 3), "`split` must be a vector of 1 true atom number in 1..2")
  expect_error(run(init_sd = -0.1), "`init_sd` must be")
  expect_error(run(nstart = 0), "`nstart` must be a whole number >= 1")
  expect_error(run(control = list(maxit = 10, speed = 2)), "`control` has unknown setting")
  expect_error(run(eval_n = 10), "`eval_n` must be a whole number >= 100")
  expect_error(run(progress = "yes"), "`progress` must be TRUE or FALSE")
  expect_error(run(cache_dir = 3), "`cache_dir` must be NULL or a directory path")
  f <- tempfile()
  writeLines("x", f)
  on.exit(unlink(f), add = TRUE)
  expect_error(run(cache_dir = f), "`cache_dir` must be a directory")
  expect_error(run(nstarts = 2), "Unknown argument `nstarts`")
  expect_error(convergence_study(tr, n = 100, reps = 1, k = 2, sd = 0.1), "`seed` must be given")

  st <- tiny_study()
  expect_error(rate_table(1), "`study` must be a `moe_study` object")
  expect_error(rate_table(st, losses = "mse"), "`losses` must name losses the study recorded")
  expect_error(rate_table(st, level = 1), "`level` must be a number in \\(0, 1\\)")
  expect_error(rate_table(st, B = -1), "`B` must be a whole number >= 0")
  expect_error(sample_size(st, eps = 0), "`eps` must be a vector of numbers > 0")
  expect_error(sample_size(st, eps = 0.1, loss = "mse"), "`loss` must name losses")
  expect_error(plot(st, loss = c("l2", "voronoi")), "`loss` must be the name of one loss")
  expect_error(study_replay(st, gating = "softmax", n = 999, rep = 1, expert = "relu"),
               "`n` must be one of the study's sample sizes")
  expect_error(study_replay(st, gating = "softmax", n = 150, rep = 3, expert = "relu"),
               "`rep` must be a whole number between 1 and 2")
  expect_error(study_replay(st, gating = "softmax", n = 150, rep = 1),
               "`expert` must be given")
  expect_error(study_replay(st, gating = "normalized_sigmoid", n = 150, rep = 1, expert = "relu"),
               "`gating` must be one of \"sigmoid\", \"softmax\"")
})
