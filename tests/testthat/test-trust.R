# Moré's trust-region steps (moe_control(trust = TRUE), src/trust.c), checked
# against what they must give whatever their path: a local minimum (the
# gradient of the SSE, computed in R from moe_jacobian(), vanishes where the
# SSE is smooth), the SSE recomputed in plain R, the minimum of a problem with
# a unique one (the same as the default steps and nls.lm reach), and
# MINPACK's stopping rules.

trust_fit <- function(x, y, k, start, ..., gating = "sigmoid", expert = "relu") {
  control <- do.call(moe_control, utils::modifyList(list(maxit = 1000, trust = TRUE), list(...)))
  quietly(moe_fit(x, y, k = k, gating = gating, expert = expert, start = start, nstart = 0,
                  control = control))
}

# the largest cosine between the residuals and a Jacobian column, in R
grad_cosine_r <- function(fit, x) {
  J <- moe_jacobian(coef(fit), x)
  r <- fit$residuals
  max(abs(crossprod(J, r)) / sqrt(colSums(J^2) * sum(r^2)))
}

# A softmax gate and two distinct linear experts, fitted with k = k* = 2: a
# minimum of its own, with or without a box; the start's beta1[1,1] and
# a[1,1] are given.
well_posed <- function(beta1, a1) {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(4, 0), a = c(1.5, -1), b = c(0.5, -0.3),
                      gating = "softmax", expert = "linear")
  set.seed(11)
  d <- moe_simulate(truth, n = 400, sd = 0.1)
  list(x = matrix(d$x1, ncol = 1L), y = d$y,
       start = moe_params(beta0 = c(0.2, 0), beta1 = c(beta1, 0), a = c(a1, -0.7), b = c(0.1, 0),
                          gating = "softmax", expert = "linear"))
}
tight <- list(ftol = 1e-14, xtol = 1e-14, gtol = 1e-12)

test_that("the trust-region steps reach the unique minimum of a well-posed fit", {
  pb <- well_posed(beta1 = 3, a1 = 1.2)
  x <- pb$x
  start <- pb$start
  tr <- do.call(trust_fit, c(list(x, pb$y, 2, start, gating = "softmax", expert = "linear"), tight))
  plain <- quietly(moe_fit(x, pb$y, k = 2, gating = "softmax", expert = "linear", start = start,
                           nstart = 0, control = do.call(moe_control, c(list(maxit = 1000), tight))))
  expect_true(tr$convergence$converged)
  expect_gt(tr$convergence$iterations, 0L)
  # the same minimum as the default steps
  expect_equal(tr$sse, plain$sse, tolerance = 1e-12)
  expect_equal(unname(tr$theta), unname(plain$theta), tolerance = 1e-6)
  # a stationary point, from the Jacobian in R
  expect_lt(grad_cosine_r(tr, x), 1e-8)
  # the SSE is the plain-R SSE at the parameters; the trace falls to it
  expect_equal(tr$sse, sum((pb$y - ref_mean(coef(tr), x, "softmax", "linear"))^2), tolerance = 1e-10)
  expect_identical(tr$convergence$trace[length(tr$convergence$trace)], tr$sse)
  expect_true(all(diff(tr$convergence$trace) <= 0))
  skip_if_not_installed("minpack.lm")
  at <- function(th) sigmoe:::theta_params(th, start)
  mp <- minpack.lm::nls.lm(unname(sigmoe:::params_theta(start)),
                           fn = function(th) pb$y - moe_mean(at(th), x),
                           jac = function(th) -moe_jacobian(at(th), x),
                           control = minpack.lm::nls.lm.control(maxiter = 1000, ftol = 1e-14,
                                                                ptol = 1e-14))
  expect_equal(tr$sse, sum(mp$fvec^2), tolerance = 1e-12)
  expect_equal(unname(tr$theta), mp$par, tolerance = 1e-6)
})

test_that("the trust-region steps are MINPACK's: the same trial points as nls.lm on a hard fit", {
  skip_if_not_installed("minpack.lm")
  # bench/fit.R's small-n problem (ReLU experts, a surplus expert, kinks and
  # a saturating gate), solved in the data's own coordinates by the solver
  # itself, and by nls.lm with sigmoe's residuals and Jacobian: every trial
  # step (accepted or rejected) has the same SSE, in the same order
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2))
  start <- moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5), a = c(0.8, 1.3, -0.8),
                      b = c(0.1, 0.3, 0.3))
  at <- function(th) sigmoe:::theta_params(th, start)
  theta0 <- unname(sigmoe:::params_theta(start))
  ctl <- sigmoe:::lsq_control_vector(moe_control(trust = TRUE, maxit = 12, trace = TRUE, gtol = 0,
                                                 ftol = sqrt(.Machine$double.eps),
                                                 xtol = sqrt(.Machine$double.eps)))
  set.seed(1)
  x <- matrix(runif(1000, -1, 1))
  y <- drop(moe_mean(truth, x)) + rnorm(1000, sd = 0.05)
  out <- capture.output(r <- sigmoe:::lsq_search(sigmoe:::params_spec(start), theta0, x, y, ctl))
  ours <- as.numeric(sub(".*sse ([^ ]+) .*", "\\1", grep("sse ", out, value = TRUE)))
  sse <- numeric(0)
  mp <- suppressWarnings(minpack.lm::nls.lm(theta0, fn = function(th) {
    res <- y - drop(moe_mean(at(th), x))
    sse <<- c(sse, sum(res^2))
    res
  }, jac = function(th) -moe_jacobian(at(th), x), control = minpack.lm::nls.lm.control(maxiter = 12)))
  # nls.lm evaluates the start twice, then one point per trial step; its
  # iteration cap counts one more than the accepted steps, so it stops first
  trials <- sse[-(1:2)]
  expect_gte(length(trials), 15L)
  expect_true(any(grepl("rejected", out[seq_along(trials)])))
  expect_equal(ours[seq_along(trials)], trials, tolerance = 1e-9)
})

test_that("the trust-region steps end the crawl of a saturating gate at a local minimum", {
  pb <- crawl_problem()
  plain <- quietly(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0,
                           control = moe_control(maxit = 1000)))
  tr <- trust_fit(pb$x, pb$y, 3, pb$start)
  expect_gt(plain$convergence$iterations, 200L)
  expect_lt(tr$convergence$iterations, 100L)
  expect_true(tr$convergence$converged)
  # a local minimum, not a stop on the way: the default steps, restarted from
  # it with tight tolerances, find no lower SSE to 1e-6 relative
  again <- quietly(moe_fit(pb$x, pb$y, k = 3, start = coef(tr), nstart = 0,
                           control = moe_control(maxit = 1000, ftol = 1e-14, xtol = 1e-14)))
  expect_gt(again$sse, tr$sse * (1 - 1e-6))
})

test_that("the trust-region steps follow MINPACK's stopping rules", {
  pb <- crawl_problem()
  # ftol: the last trial step, accepted or not, changed the SSE by at most
  # ftol relative (MINPACK tests every trial; a rejected one leaves theta)
  out <- capture.output(tr <- trust_fit(pb$x, pb$y, 3, pb$start, ftol = 1e-6, xtol = 0, gtol = 0,
                                        trace = TRUE))
  expect_identical(tr$convergence$code, 1L)
  trace <- tr$convergence$trace
  trials <- as.numeric(sub(".*sse ([^ ]+) .*", "\\1", grep("sse ", out, value = TRUE)))
  last <- trials[length(trials)]
  before <- if (grepl("rejected", out[length(out)])) trace[length(trace)] else trace[length(trace) - 1L]
  expect_lte(abs(1 - last / before), 1e-6)
  # maxit counts accepted steps
  short <- trust_fit(pb$x, pb$y, 3, pb$start, maxit = 3)
  expect_identical(short$convergence$code, -1L)
  expect_identical(short$convergence$iterations, 3L)
  expect_length(short$convergence$trace, 4L)
  expect_false(short$convergence$converged)
  # a start at a stationary point of the gradient test stops at once
  again <- trust_fit(pb$x, pb$y, 3, coef(tr), gtol = 1)
  expect_identical(again$convergence$code, 3L)
  expect_identical(again$convergence$iterations, 0L)
})

test_that("the trust-region steps take over from variable projection", {
  truth <- moe_params(beta0 = c(1, 0), beta1 = c(-4, 0), a = c(2, -1), b = c(0.5, 0),
                      gating = "softmax", expert = "linear")
  set.seed(5)
  d <- moe_simulate(truth, n = 300, sd = 0.1)
  x <- matrix(d$x1, ncol = 1L)
  start <- moe_params(beta0 = c(0.5, 0), beta1 = c(-2, 0), a = c(1, -0.5), b = c(0, 0.2),
                      gating = "softmax", expert = "linear")
  tr <- trust_fit(x, d$y, 2, start, gating = "softmax", expert = "linear", varpro = TRUE,
                  ftol = 1e-14, xtol = 1e-14)
  plain <- quietly(moe_fit(x, d$y, k = 2, gating = "softmax", expert = "linear", start = start,
                           nstart = 0, control = moe_control(maxit = 1000, ftol = 1e-14, xtol = 1e-14)))
  expect_true(tr$convergence$converged)
  expect_equal(tr$sse, plain$sse, tolerance = 1e-8)
  expect_lt(grad_cosine_r(tr, x), 1e-6)
})

test_that("the trust-region steps keep to a box: the minimum with a bound held, from R", {
  pb <- well_posed(beta1 = 2, a1 = 1.1)
  x <- pb$x
  start <- pb$start
  # the free minimum has beta1[1,1] near 4; the box caps it at 2.5
  upper <- list(beta1 = 2.5, a = 1.2)
  fit_box <- function(trust)
    suppressWarnings(moe_fit(x, pb$y, k = 2, gating = "softmax", expert = "linear", start = start,
                             nstart = 0, upper = upper,
                             control = do.call(moe_control, c(list(maxit = 1000, trust = trust), tight))),
                     classes = "sigmoe_at_bound")
  tr <- fit_box(TRUE)
  plain <- fit_box(FALSE)
  expect_true(tr$convergence$converged)
  expect_identical(names(which(tr$at_bound)), "beta1[1,1]")
  expect_identical(tr$theta[["beta1[1,1]"]], 2.5)
  expect_true(all(tr$theta >= tr$lower & tr$theta <= tr$upper))
  # the same constrained minimum as the default steps' active set
  expect_equal(tr$sse, plain$sse, tolerance = 1e-10)
  expect_equal(unname(tr$theta), unname(plain$theta), tolerance = 1e-5)
  # first-order conditions, from the Jacobian in R: the SSE falls out of
  # the box (J'r > 0 at the upper bound) and is stationary in the others
  J <- moe_jacobian(coef(tr), x)
  g <- drop(crossprod(J, tr$residuals))
  held <- which(tr$at_bound)
  expect_gt(g[held], 0)
  cosine <- abs(g[-held]) / sqrt(colSums(J[, -held]^2) * tr$sse)
  expect_lt(max(cosine), 1e-7)
  # the minimum of the problem with beta1[1,1] fixed at 2.5, found without a
  # box by nls.lm over the other five parameters
  skip_if_not_installed("minpack.lm")
  th0 <- unname(tr$theta)
  full <- function(z) replace(th0, -held, z)
  at <- function(z) sigmoe:::theta_params(full(z), start)
  mp <- minpack.lm::nls.lm(unname(sigmoe:::params_theta(start))[-held],
                           fn = function(z) pb$y - moe_mean(at(z), x),
                           jac = function(z) -moe_jacobian(at(z), x)[, -held],
                           control = minpack.lm::nls.lm.control(maxiter = 1000, ftol = 1e-14,
                                                                ptol = 1e-14))
  expect_equal(tr$sse, sum(mp$fvec^2), tolerance = 1e-10)
  expect_equal(unname(tr$theta)[-held], mp$par, tolerance = 1e-5)
})

test_that("a box the trust-region steps never reach changes nothing", {
  pb <- crawl_problem()
  free <- trust_fit(pb$x, pb$y, 3, pb$start)
  boxed <- quietly(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0, lower = -1e3, upper = 1e3,
                           control = moe_control(maxit = 1000, trust = TRUE)))
  expect_identical(boxed$theta, free$theta)
  expect_identical(boxed$convergence$trace, free$convergence$trace)
  expect_false(any(boxed$at_bound))
})

test_that("the trust-region steps stop at once where every parameter is held", {
  pb <- crawl_problem()
  spec <- sigmoe:::params_spec(pb$start)
  th <- unname(sigmoe:::params_theta(pb$start))
  v <- sigmoe:::lsq_control_vector(moe_control(trust = TRUE))
  # the box is the start itself: nothing can move
  out <- sigmoe:::lsq_search(spec, th, pb$x, pb$y, v, th, th)
  expect_identical(out$code, 3L)
  expect_identical(out$iterations, 0L)
  expect_identical(out$theta, th)
})

test_that("a study runs the trust-region steps in its box", {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "relu")
  run <- function(control)
    quietly(convergence_study(truth, n = c(200, 400), reps = 3, k = 3, sd = 0.1, seed = 1,
                              control = control))$results
  tr <- run(moe_control(trust = TRUE))
  plain <- run(moe_control())
  expect_identical(nrow(tr), 12L)
  expect_true(all(tr$converged & is.finite(tr$sse)))
  # the same data, fitted to about the same minima as the default steps
  # (a projected step must not stop the search early: before the model's
  # reduction of a cut step was checked, some fits stopped at 10 times the
  # SSE)
  expect_lt(max(abs(tr$sse / plain$sse - 1)), 0.1)
  expect_lt(abs(stats::median(tr$sse / plain$sse) - 1), 0.01)
})

test_that("the trust-region steps refuse acceleration, by name", {
  pb <- crawl_problem()
  expect_error(moe_control(trust = TRUE, accel = TRUE), "`trust` and `accel`")
  expect_error(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0,
                       control = list(trust = TRUE, accel = TRUE)), "`control\\$trust` and `control\\$accel`")
  # the C solver refuses a hand-made control vector that asks for both
  spec <- sigmoe:::params_spec(pb$start)
  th <- unname(sigmoe:::params_theta(pb$start))
  v <- sigmoe:::lsq_control_vector(moe_control(trust = TRUE))
  expect_error(sigmoe:::lsq_search(spec, th, pb$x, pb$y, replace(v, "trust", 2)), "`trust`")
  expect_error(sigmoe:::lsq_search(spec, th, pb$x, pb$y, replace(v, "accel", 1)), "`trust` and `accel`")
})

test_that("the trust-region steps survive a start where the SSE is not finite or nothing moves f", {
  pb <- crawl_problem()
  spec <- sigmoe:::params_spec(pb$start)
  th <- unname(sigmoe:::params_theta(pb$start))
  v <- sigmoe:::lsq_control_vector(moe_control(trust = TRUE))
  # a slope of 1e308 on inputs up to 10: the SSE is infinite at the start
  bad <- sigmoe:::lsq_search(spec, replace(th, 3, 1e308), pb$x * 10, pb$y, v)
  expect_identical(bad$code, -2L)
  expect_identical(bad$iterations, 0L)
  # a gate slope of 1e300 (a step function): the steps go on from there and
  # end with a finite SSE below the start's
  steep <- replace(th, 2, 1e300)
  out <- sigmoe:::lsq_search(spec, steep, pb$x, pb$y, v)
  expect_true(is.finite(out$sse) && out$code > 0L)
  expect_lt(out$sse, sum((pb$y - moe_mean(sigmoe:::theta_params(steep, pb$start), pb$x))^2))
  # every expert switched off (b far below the inputs' range): J = 0 in a's
  # and b's columns and the gates move nothing; the solver stops, not loops
  dead <- th
  dead[c(3, 7, 11)] <- 0
  dead[c(4, 8, 12)] <- -10
  out <- sigmoe:::lsq_search(spec, dead, pb$x, pb$y, v)
  expect_identical(out$code, 3L)
  expect_identical(out$iterations, 0L)
})
