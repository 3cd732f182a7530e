# The study's lean fits (study_fit()) and its losses in C (study_losses())
# against moe_fit() and the R computations of the losses.

# A study's setup without running it.
lean_setup <- function(truth = soft_truth(), n = c(150, 300), reps = 2, k = 3,
                       gating = c("sigmoid", "softmax"), expert = c("relu", "linear"),
                       init = "near_truth", bounds = "auto", x_law = NULL, degree = NULL,
                       sd = 0.1, nstart = 3L, init_sd = 0.05, losses = c("voronoi", "expert_error", "l2")) {
  sigmoe:::study_setup(truth = truth, n = n, reps = reps, k = k, gating = gating, expert = expert,
                       sd = sd, x_law = x_law, init = init, losses = losses, seed = 3, degree = degree,
                       split = NULL, surplus = NULL, bounds = bounds, init_sd = init_sd,
                       nstart = nstart, control = moe_control(), eval_n = 500L)
}

# Every task of a setup through the lean path and through moe_fit() (keep =
# TRUE): the rows must be identical but for the timings, and the losses those
# of the R computations on the kept fits.
expect_lean_matches_full <- function(setup) {
  # a task sets its own L'Ecuyer-CMRG stream (a study run puts the session's
  # generator back around its tasks; here the tasks run alone)
  saved <- sigmoe:::rng_save()
  on.exit(sigmoe:::rng_restore(saved), add = TRUE)
  drop_time <- function(rows) rows[names(rows) != "seconds"]
  for (task in setup$tasks) {
    lean <- sigmoe:::study_task_compute(task, setup, setup$gating)
    full <- sigmoe:::study_task_compute(task, setup, setup$gating, keep = TRUE)
    expect_identical(drop_time(lean$rows), drop_time(full$rows))
    tr <- setup$truths[[task$expert]]
    for (i in seq_along(setup$gating)) {
      g <- setup$gating[i]
      fit <- full$fits[[g]]$fit
      if (inherits(fit, "error")) next
      want <- ref_study_losses(fit$coefficients, tr$fit[[g]], tr$data, setup$x_eval,
                               setup$f_eval[[task$expert]])
      got <- c(voronoi = full$rows$voronoi[i], l2 = full$rows$l2[i],
               full$rows[[paste0("expert_error", 1)]][i], full$rows[[paste0("expert_error", 2)]][i])
      expect_identical(unname(got), unname(want))
    }
  }
}

test_that("a study's lean fits give moe_fit()'s rows and the R losses, bit for bit", {
  skip_on_cran()
  expect_lean_matches_full(lean_setup())
  expect_lean_matches_full(lean_setup(init = "global", reps = 1))
  expect_lean_matches_full(lean_setup(init = "multistart", reps = 1, n = 200))
  # no box, and inputs far from 0 and from unit scale: the fit centres and
  # scales x (and y, whose scale follows), so the starts and the solution are
  # mapped between coordinates
  expect_lean_matches_full(lean_setup(bounds = NULL, reps = 1, expert = "relu",
                                      x_law = function(n, d) matrix(stats::runif(n * d, 990, 1010), n, d)))
  # a box, inputs of large scale
  expect_lean_matches_full(lean_setup(reps = 1, expert = "linear",
                                      x_law = function(n, d) matrix(stats::runif(n * d, -300, 300), n, d)))
})

test_that("lean fits match moe_fit() for other gates, experts and dimensions", {
  skip_on_cran()
  # the normalized sigmoid cannot represent the softmax truth: a misspecified
  # gate, fitted by multistart, whose expert errors use cells on the experts
  expect_lean_matches_full(lean_setup(gating = c("softmax", "normalized_sigmoid"), reps = 1,
                                      expert = "relu"))
  tr2 <- moe_params(beta0 = c(0.3, -0.2), beta1 = matrix(c(2, -1, 1, 0.5), 2), a = matrix(c(1, -1, 0.5, 0.2), 2),
                    b = c(0.1, 0.2), gating = "sigmoid", expert = "relu")
  expect_lean_matches_full(lean_setup(truth = tr2, gating = "sigmoid", expert = c("relu", "polynomial"),
                                      degree = 2, reps = 1, n = 300))
  trc <- moe_params(beta0 = c(0.3, -0.2), beta1 = c(2, -2), b = c(0.5, -0.5), gating = "sigmoid",
                    expert = "constant")
  expect_lean_matches_full(lean_setup(truth = trc, gating = "sigmoid", expert = "constant", reps = 1,
                                      n = 200, k = 2))
})

test_that("study_fit() returns what moe_fit() finds, from the same starts", {
  setup <- lean_setup(init = "global", reps = 1)
  plan <- setup$plans$relu$gates$sigmoid
  set.seed(4)
  x <- matrix(stats::runif(200, -1, 1), ncol = 1, dimnames = list(NULL, "x1"))
  y <- moe_mean(setup$truths$relu$data, x) + stats::rnorm(200, 0, 0.1)
  thetas <- plan$starts
  set.seed(5)
  lean <- sigmoe:::study_fit(plan, x, y, thetas, nstart = 2L)
  box <- setup$bounds$gates$sigmoid
  set.seed(5)
  fit <- suppressWarnings(moe_fit(x, y, k = 3, gating = "sigmoid", expert = "relu",
                                  start = unname(sigmoe:::study_task_starts(setup, "relu", "sigmoid")),
                                  nstart = 2L, lower = box$lower, upper = box$upper))
  expect_identical(lean$theta, fit$theta)
  expect_identical(lean$sse, fit$sse)
  expect_identical(lean$code, fit$convergence$code)
  expect_identical(lean$iterations, fit$convergence$iterations)
  expect_identical(lean$at_bound, fit$at_bound)
  expect_identical(lean$start_sse, fit$starts$sse)
  expect_identical(sigmoe:::study_fit_result(fit)$start_sse, fit$starts$sse)
})

test_that("a setup stored without plans gives the same rows", {
  setup <- lean_setup(reps = 1, n = 150)
  old <- setup
  old$plans <- NULL
  saved <- sigmoe:::rng_save()  # each task sets its own stream
  for (task in setup$tasks) {
    a <- sigmoe:::study_task_compute(task, setup, setup$gating)$rows
    b <- sigmoe:::study_task_compute(task, old, setup$gating)$rows
    expect_identical(a[names(a) != "seconds"], b[names(b) != "seconds"])
  }
  sigmoe:::rng_restore(saved)
})

test_that("the C losses equal the R losses for every gate and expert", {
  set.seed(21)
  x <- matrix(stats::runif(2 * 777, -1, 1), ncol = 2)
  for (g in sigmoe:::gating_types) for (e in sigmoe:::expert_types) for (k in c(1L, 2L, 4L)) {
    deg <- if (e == "polynomial") 3L else NULL
    draw <- function(k) {
      b0 <- stats::rnorm(k)
      b1 <- matrix(stats::rnorm(2 * k, sd = 2), k)
      if (ref_reference(g, k)) { b0[k] <- 0; b1[k, ] <- 0 }
      moe_params(beta0 = b0, beta1 = b1, a = if (e == "constant") NULL else matrix(stats::rnorm(2 * k), k),
                 b = stats::rnorm(k), gating = g, expert = e, degree = deg)
    }
    truth <- draw(3L)
    fitp <- draw(k)
    f_true <- moe_mean(truth, x)
    # the same gate (a Voronoi loss), and a truth of another gate (none)
    other <- draw(3L)
    other$gating <- if (g == "sigmoid") "softmax" else "sigmoid"
    if (other$gating == "softmax") { other$beta0[3] <- 0; other$beta1[3, ] <- 0 }
    for (tg in list(truth, NULL)) {
      truth_ee <- if (is.null(tg)) other else tg
      target <- sigmoe:::study_loss_target(tg, truth_ee, g)
      got <- sigmoe:::study_losses(list(list(sigmoe:::params_spec(fitp), unname(sigmoe:::params_theta(fitp)))),
                                   list(target), x, f_true, c("voronoi", "expert_error", "l2"))[[1]]
      want <- ref_study_losses(fitp, tg, other, x, f_true)
      expect_identical(got, unname(want), info = paste(g, e, k))
    }
  }
})

test_that("the C losses of several gates in one call equal those of one gate at a time", {
  # one call computes the true experts' outputs once and keeps them while the
  # next gates' true experts are the same, in a workspace kept between
  # calls: gates with other truths (more experts, other parameters, another
  # expert with the same parameters), the same truth again after another, and
  # calls of growing and shrinking size must all give what each gate gives
  # alone, which is the R reference
  set.seed(5)
  one <- function(fitp, tg, other, x, f_true)
    sigmoe:::study_losses(list(loss_fit(fitp)), list(sigmoe:::study_loss_target(tg, other, fitp$gating)),
                          x, f_true, c("voronoi", "expert_error", "l2"))[[1]]
  draw <- function(k, e = "relu") random_params(k, 1L, "sigmoid", e, scale = 2)
  for (n in c(1000L, 37L, 5000L, 300L)) {
    x <- matrix(stats::runif(n, -1, 1), ncol = 1)
    t2 <- draw(2L)
    t3 <- draw(3L)
    t2b <- t2
    t2b$a[2] <- t2b$a[2] + 0.5
    # the same numbers with another expert: outputs to compute anew
    t2g <- moe_params(beta0 = t2$beta0, beta1 = t2$beta1, a = t2$a, b = t2$b,
                      gating = "sigmoid", expert = "gelu")
    truths <- list(t2, t2, t3, t2, t2b, t2b, t2g, t2)
    fits <- Map(function(k, tr) draw(k, e = tr$expert), c(3L, 1L, 4L, 2L, 3L, 5L, 2L, 3L), truths)
    f_true <- moe_mean(t2, x)
    got <- sigmoe:::study_losses(
      lapply(fits, loss_fit),
      Map(function(tr) sigmoe:::study_loss_target(tr, tr, "sigmoid"), truths), x, f_true,
      c("voronoi", "expert_error", "l2"))
    for (i in seq_along(fits)) {
      alone <- one(fits[[i]], truths[[i]], truths[[i]], x, f_true)
      expect_identical(got[[i]], alone, info = paste(n, i))
      expect_identical(alone, unname(ref_study_losses(fits[[i]], truths[[i]], truths[[i]], x, f_true)),
                       info = paste(n, i))
    }
  }
  # a sample so large that its workspace is released at the end of the call
  # (more than 2^20 doubles), then a small one that allocates anew
  for (n in c(400000L, 500L)) {
    x <- matrix(stats::runif(n, -1, 1), ncol = 1)
    t2 <- draw(2L)
    fit <- draw(3L)
    f_true <- moe_mean(t2, x)
    expect_identical(one(fit, t2, t2, x, f_true), unname(ref_study_losses(fit, t2, t2, x, f_true)),
                     info = n)
  }
})

test_that("the C losses follow R's mean when the sum of squares overflows, and skip what is not asked", {
  set.seed(2)
  x <- matrix(stats::runif(300, -1, 1), ncol = 1)
  truth <- soft_truth()
  target <- sigmoe:::study_loss_target(truth, truth, "softmax")
  fit <- list(sigmoe:::params_spec(truth), unname(sigmoe:::params_theta(truth)))
  for (shift in c(0, 1e-300, 1, 1e150, 1e153, 1e155)) {
    f_true <- moe_mean(truth, x) + shift * stats::runif(300)
    got <- sigmoe:::study_losses(list(fit), list(target), x, f_true, "l2")[[1]]
    expect_identical(got[2], ref_regression_error(truth, x, f_true))
    expect_true(all(is.na(got[-2])))
  }
  # a failed fit has no losses
  expect_null(sigmoe:::study_losses(list(NULL), list(target), x, f_true, "l2")[[1]])
})

test_that("the C losses check what they are given", {
  x <- matrix(stats::runif(20, -1, 1), ncol = 1)
  truth <- soft_truth()
  target <- sigmoe:::study_loss_target(truth, truth, "softmax")
  spec <- sigmoe:::params_spec(truth)
  theta <- unname(sigmoe:::params_theta(truth))
  f <- moe_mean(truth, x)
  call <- function(fits, targets = list(target), xx = x, ff = f)
    sigmoe:::study_losses(fits, targets, xx, ff, "l2")
  expect_error(call(list(list(spec, theta[-1]))), "theta has length")
  expect_error(call(list(list(spec))), "list\\(spec, theta\\)")
  expect_error(call(list(list(spec, theta)), list(list(1))), "target")
  expect_error(call(list(list(spec, theta)), xx = as.vector(x)), "matrix")
  expect_error(call(list(list(spec, theta)), ff = f[-1]), "f_true")
  bad <- target
  bad$expert$loc <- bad$expert$loc[, -1]
  expect_error(sigmoe:::study_losses(list(list(spec, theta)), list(bad), x, f, "expert_error"), "expert loc")
  bad <- target
  bad$voronoi$w <- "a"
  expect_error(sigmoe:::study_losses(list(list(spec, theta)), list(bad), x, f, "voronoi"), "voronoi w")
})

test_that("the table of starts is the data frame moe_fit() built before, row by row", {
  run <- function(sse, code = 1L) list(sse = sse, code = code, converged = code > 0L, iterations = 7L)
  rt <- sigmoe:::runs_table
  cases <- list(
    list(rt(list(run(2)), "user", "full", 1)),
    list(rt(list(), "user", "full", 1), rt(list(run(3), run(Inf, -2L), run(1)), "data", "full", 2)),
    list(rt(list(run(1)), "user", "full", 0.5), rt(list(run(3), run(2)), c("data", "hop"), "screen", 1),
         rt(list(run(2.5)), "data", "polish", 1)))
  for (parts in cases) expect_identical(sigmoe:::starts_table(parts), ref_starts_table(parts))
  # and the fits' own tables, of each kind of search
  set.seed(3)
  x <- stats::runif(600, -1, 1)
  y <- pmax(x, 0) + stats::rnorm(600, 0, 0.1)
  ctl <- moe_control(screen_rows = 200)
  for (nstart in list(NULL, 0L, 2L)) {
    fit <- suppressWarnings(moe_fit(x, y, k = 2, nstart = nstart, control = ctl,
                                    start = moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 0),
                                                       b = c(0, 0))))
    st <- fit$starts
    expect_s3_class(st, "data.frame")
    expect_identical(st, ref_starts_table(list(as.list(st[-1]))))
    expect_identical(fit$sse, min(st$sse[st$stage != "screen"]))
  }
})
