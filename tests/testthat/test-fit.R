# The least-squares fit (R/fit.R, src/lsq.c): recovery of well-specified
# models, comparison with minpack.lm, reproducibility and argument checks.

# L2 distance between two regression functions on a grid of [-1, 1] (d = 1).
l2_on_grid <- function(p, q) {
  grid <- seq(-1, 1, length.out = 401)
  sqrt(mean((moe_mean(p, grid) - moe_mean(q, grid))^2))
}

without_call <- function(fit) fit[setdiff(names(fit), "call")]

test_that("a well-specified sigmoid-gate relu model is recovered from data-driven starts", {
  set.seed(1)
  n <- 2000; sd <- 0.05
  d <- moe_simulate(relu_truth, n = n, sd = sd)
  sse_truth <- sum((d$y - ref_mean(relu_truth, d$x1, "sigmoid", "relu"))^2)
  set.seed(5)
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, gating = "sigmoid", expert = "relu", nstart = 10))
  expect_s3_class(fit, "moe_fit")
  expect_lt(l2_on_grid(fit$coefficients, relu_truth), 0.02)
  expect_gt(fit$sse / (n * sd^2), 0.9)
  expect_lt(fit$sse / (n * sd^2), 1.1)
  # the least-squares estimate is at least as good as the truth, up to a local minimum nearby
  expect_lt(fit$sse, 1.01 * sse_truth)
  expect_true(fit$convergence$converged)
})

test_that("a well-specified sigmoid-gate linear model is recovered", {
  truth <- moe_params(beta0 = c(-1, 1), beta1 = c(5, -5), a = c(1, -1), b = c(0.5, 0),
                      expert = "linear")
  set.seed(2)
  n <- 2000; sd <- 0.05
  d <- moe_simulate(truth, n = n, sd = sd)
  set.seed(3)
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, expert = "linear", nstart = 5))
  expect_lt(l2_on_grid(fit$coefficients, truth), 0.02)
  expect_lt(abs(fit$sse / (n * sd^2) - 1), 0.1)
})

test_that("a well-specified softmax-gate model is recovered", {
  truth <- moe_params(beta0 = c(1, 0), beta1 = c(8, 0), a = c(1, -1), b = c(0.2, 0.2),
                      gating = "softmax", expert = "linear")
  set.seed(2)
  n <- 2000; sd <- 0.05
  d <- moe_simulate(truth, n = n, sd = sd)
  sse_truth <- sum((d$y - ref_mean(truth, d$x1, "softmax", "linear"))^2)
  set.seed(4)
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, gating = "softmax", expert = "linear", nstart = 5))
  expect_lt(l2_on_grid(fit$coefficients, truth), 0.02)
  expect_lt(abs(fit$sse / (n * sd^2) - 1), 0.1)
  expect_lte(fit$sse, sse_truth)
  # the reference expert stays at zero
  expect_identical(unname(c(fit$coefficients$beta0[2], fit$coefficients$beta1[2, ])), c(0, 0))
  # and the gate parameters are identified: close to the truth
  # and the gate parameters are identified up to relabelling the two experts
  # (with k = 2, swapping them turns z into -z)
  expect_equal(abs(unname(fit$theta[c("beta0[1]", "beta1[1,1]")])), c(1, 8), tolerance = 0.2)
})

test_that("normalized-sigmoid and constant-expert fits recover their truths", {
  set.seed(6)
  tn <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(5, -5), a = c(1, -1), b = c(0, 0.3),
                   gating = "normalized_sigmoid", expert = "tanh")
  dn <- moe_simulate(tn, n = 1000, sd = 0.05)
  fn <- quietly(moe_fit(dn$x1, dn$y, k = 2, gating = "normalized_sigmoid", expert = "tanh", nstart = 5))
  expect_lt(l2_on_grid(fn$coefficients, tn), 0.02)
  tc <- moe_params(beta0 = c(0, 0), beta1 = c(8, -8), b = c(1, -1), expert = "constant")
  dc <- moe_simulate(tc, n = 1000, sd = 0.05)
  fc <- quietly(moe_fit(dc$x1, dc$y, k = 2, expert = "constant", nstart = 5))
  expect_lt(l2_on_grid(fc$coefficients, tc), 0.02)
  expect_true(all(fc$coefficients$a == 0))
})

test_that("from the same start the fit's SSE is no larger than minpack.lm::nls.lm's", {
  skip_if_not_installed("minpack.lm")
  # Problems where a start near the truth lies in the truth's basin for both
  # solvers (sigmoid-gate models often have several nearby local minima, and
  # two solvers may then legitimately end in different ones).
  cases <- list(
    list(gating = "softmax", expert = "gelu", d = 2L, seed = 7,
         truth = list(beta0 = c(1, 0), beta1 = rbind(c(4, -2), 0), a = rbind(c(1, 1), c(-1, 0.5)),
                      b = c(0.2, -0.1))),
    list(gating = "sigmoid", expert = "tanh", d = 1L, seed = 9,
         truth = list(beta0 = c(0.5, -0.5), beta1 = matrix(c(6, -6)), a = matrix(c(2, -1)),
                      b = c(0.5, 0)))
  )
  for (cs in cases) {
    set.seed(cs$seed)
    k <- 2; d <- cs$d; n <- 500
    truth <- moe_params(cs$truth$beta0, cs$truth$beta1, cs$truth$a, cs$truth$b,
                        gating = cs$gating, expert = cs$expert)
    x <- matrix(runif(n * d, -1, 1), n, d)
    y <- ref_mean(cs$truth, x, cs$gating, cs$expert) + rnorm(n, sd = 0.05)
    theta0 <- sigmoe:::params_theta(truth)
    theta0 <- theta0 + rnorm(length(theta0), sd = 0.1)
    start <- sigmoe:::theta_params(theta0, truth)
    resid <- function(theta) y - ref_mean(ref_unpack(theta, k, d, cs$gating, cs$expert), x,
                                          cs$gating, cs$expert)
    ref <- minpack.lm::nls.lm(par = unname(theta0), fn = resid,
                              control = minpack.lm::nls.lm.control(maxiter = 1000, ftol = 1e-12,
                                                                   ptol = 1e-12))
    sse_ref <- sum(resid(ref$par)^2)
    for (accel in c(FALSE, TRUE)) {
      fit <- quietly(moe_fit(x, y, k = 2, gating = cs$gating, expert = cs$expert, start = start,
                             nstart = 0, control = moe_control(maxit = 1000, ftol = 1e-12,
                                                               xtol = 1e-12, accel = accel)))
      label <- sprintf("%s/%s, accel = %s", cs$gating, cs$expert, accel)
      expect_lte(fit$sse, sse_ref * (1 + 1e-8), label = paste(label, "SSE"))
      # and the package's SSE is the plain-R SSE at its parameters
      expect_equal(fit$sse, sum(resid(fit$theta)^2), tolerance = 1e-10, label = label)
    }
  }
})

test_that("the fit object holds consistent pieces", {
  set.seed(8)
  d <- moe_simulate(relu_truth, n = 300, sd = 0.05)
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, nstart = 3))
  x <- matrix(d$x1, dimnames = list(NULL, "x1"))
  P <- sigmoe:::n_free_params(2, 1, "sigmoid", "relu")
  expect_identical(names(fit$theta), sigmoe:::param_names(2, 1, "sigmoid", "relu"))
  expect_identical(fit$theta, sigmoe:::params_theta(fit$coefficients))
  expect_s3_class(fit$coefficients, "moe_params")
  expect_equal(fit$fitted.values,
               ref_mean(ref_unpack(fit$theta, 2, 1, "sigmoid", "relu"), x, "sigmoid", "relu"),
               tolerance = 1e-12)
  expect_identical(fit$residuals, d$y - fit$fitted.values)
  expect_equal(fit$sse, sum(fit$residuals^2), tolerance = 1e-12)
  expect_identical(fit$nobs, 300L)
  expect_equal(fit$npar, P)
  expect_equal(fit$df.residual, 300 - P)
  expect_equal(fit$sigma, sqrt(fit$sse / (300 - P)))
  expect_identical(unname(fit$x), unname(x))
  expect_identical(fit$y, d$y)
  expect_identical(c(fit$gating, fit$expert), c("sigmoid", "relu"))
  expect_identical(c(fit$k, fit$d), c(2L, 1L))
  expect_null(fit$degree)
  J <- moe_jacobian(fit$coefficients, x)
  expect_equal(unname(fit$jtj), unname(crossprod(J)), tolerance = 1e-10)
  expect_identical(dimnames(fit$jtj), list(names(fit$theta), names(fit$theta)))
  cv <- fit$convergence
  expect_true(all(c("code", "message", "converged", "iterations", "evaluations", "trace") %in% names(cv)))
  expect_identical(cv$converged, cv$code > 0)
  expect_true(cv$code %in% c(1:5, -1L, -2L))
  expect_length(cv$trace, cv$iterations + 1)
  expect_true(all(diff(cv$trace) <= 0))
  expect_equal(cv$trace[length(cv$trace)], fit$sse)
  st <- fit$starts
  expect_identical(names(st), c("start", "source", "stage", "sse", "code", "converged", "iterations"))
  expect_identical(st$stage, rep("full", 3))
  expect_identical(nrow(st), 3L)
  expect_identical(st$source, rep("data", 3))
  expect_identical(fit$sse, min(st$sse))
  expect_s3_class(fit$control, "moe_control")
})

test_that("set.seed reproduces a fit exactly", {
  set.seed(9)
  d <- moe_simulate(relu_truth, n = 500, sd = 0.1)
  set.seed(10); f1 <- quietly(moe_fit(d$x1, d$y, k = 2, nstart = 4))
  set.seed(10); f2 <- quietly(moe_fit(d$x1, d$y, k = 2, nstart = 4))
  set.seed(11); f3 <- quietly(moe_fit(d$x1, d$y, k = 2, nstart = 4))
  expect_identical(f1$theta, f2$theta)
  expect_identical(f1$starts, f2$starts)
  expect_identical(without_call(f1), without_call(f2))
  # the data-driven starts after the first are random
  expect_false(identical(f1$starts$sse, f3$starts$sse))
})

test_that("1 and 2 threads give identical coefficients", {
  set.seed(12)
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = rbind(c(3, -1), 0), a = rbind(c(1, 0.5), c(-1, 1)),
                      b = c(0.1, 0.2), gating = "softmax", expert = "gelu")
  d <- moe_simulate(truth, n = 3000, sd = 0.05)
  x <- as.matrix(d[c("x1", "x2")])
  set.seed(13); f1 <- quietly(moe_fit(x, d$y, k = 2, gating = "softmax", expert = "gelu", nstart = 2,
                              control = moe_control(threads = 1)))
  set.seed(13); f2 <- quietly(moe_fit(x, d$y, k = 2, gating = "softmax", expert = "gelu", nstart = 2,
                              control = moe_control(threads = 2)))
  expect_identical(f1$theta, f2$theta)
  expect_identical(f1$coefficients, f2$coefficients)
  expect_identical(f1$sse, f2$sse)
  expect_identical(f1$starts, f2$starts)
  expect_identical(f1$fitted.values, f2$fitted.values)
  expect_identical(f1$jtj, f2$jtj)
})

test_that("results do not depend on the thread count even when BLAS is multi-threaded", {
  # a multi-threaded BLAS must not leak into the sums: force OpenBLAS (when R
  # uses it) to 2 threads and compare 1, 2 and 3 OpenMP threads bit for bit
  old <- blas_threads()
  if (!is.na(old)) {
    blas_threads(2)
    on.exit(blas_threads(old), add = TRUE)
  }
  set.seed(21)
  cases <- list(
    # P = 12 with d = 1: the shape where a threaded dgemv once changed J'r
    list(truth = moe_params(beta0 = c(0, 0, 0.1), beta1 = c(6, -6, 1), a = c(1, -1, 0.5),
                            b = c(0.2, 0.2, 0), expert = "relu"), n = 10000L),
    list(truth = moe_params(beta0 = c(0.3, -0.2, 0.1), beta1 = matrix(rnorm(9), 3),
                            a = matrix(rnorm(9), 3), b = rnorm(3), expert = "tanh"), n = 20000L))
  for (cs in cases) {
    truth <- cs$truth
    x <- matrix(runif(cs$n * truth$d, -1, 1), cs$n, truth$d)
    y <- moe_mean(truth, x) + rnorm(cs$n, sd = 0.1)
    theta <- sigmoe:::params_theta(truth) + 0.1
    spec <- sigmoe:::params_spec(truth)
    ne <- lapply(1:3, function(t) .Call(sigmoe:::C_model_crossprod, spec, theta, x, y, t))
    expect_identical(ne[[1]], ne[[2]])
    expect_identical(ne[[1]], ne[[3]])
    start <- sigmoe:::theta_params(theta, truth)
    # the SSE-only pass (a rejected step's cost) sums the same blocks in the same order
    sse <- lapply(1:3, function(t) .Call(sigmoe:::C_model_sse, spec, theta, x, y, t))
    expect_identical(sse[[1]], sse[[2]])
    expect_identical(sse[[1]], sse[[3]])
    expect_identical(sse[[1]], ne[[1]]$sse)
    expect_equal(sse[[1]], sum((y - moe_mean(start, x))^2), tolerance = 1e-12)
    fits <- lapply(1:3, function(t) moe_fit(x, y, k = 3, expert = truth$expert, start = start,
                                            nstart = 0, control = moe_control(threads = t)))
    expect_identical(fits[[1]]$theta, fits[[2]]$theta)
    expect_identical(fits[[1]]$theta, fits[[3]]$theta)
    expect_identical(fits[[1]]$convergence$trace, fits[[2]]$convergence$trace)
  }
  # and the BLAS thread count is left as it was
  if (!is.na(old)) expect_identical(blas_threads(), 2L)
})

test_that("nstart = 0 with a start runs exactly one local search from it", {
  set.seed(14)
  d <- moe_simulate(relu_truth, n = 400, sd = 0.05)
  start <- moe_params(beta0 = c(0.3, -0.2), beta1 = c(4, -4), a = c(0.8, -1.2), b = c(0.1, 0.3))
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, start = start, nstart = 0))
  expect_identical(nrow(fit$starts), 1L)
  expect_identical(fit$starts$source, "user")
  sse0 <- sum((d$y - ref_mean(start, d$x1, "sigmoid", "relu"))^2)
  expect_equal(fit$convergence$trace[1], sse0, tolerance = 1e-12)
  expect_lt(fit$sse, sse0)
  # a local search from a start this close ends at the truth's basin
  expect_lt(l2_on_grid(fit$coefficients, relu_truth), 0.02)
  # the start is not consumed from the RNG: the same fit without set.seed
  expect_identical(fit$theta, moe_fit(d$x1, d$y, k = 2, start = start, nstart = 0)$theta)
})

test_that("a list of starts runs each of them before the data-driven starts", {
  set.seed(15)
  d <- moe_simulate(relu_truth, n = 400, sd = 0.05)
  s1 <- moe_params(beta0 = c(0.3, -0.2), beta1 = c(4, -4), a = c(0.8, -1.2), b = c(0.1, 0.3))
  s2 <- moe_params(beta0 = c(0, 0), beta1 = c(-1, 1), a = c(0.5, 0.5), b = c(0, 0))
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, start = list(s1, s2), nstart = 2))
  expect_identical(nrow(fit$starts), 4L)
  expect_identical(fit$starts$source, c("user", "user", "data", "data"))
  expect_identical(fit$starts$start, 1:4)
  expect_identical(fit$sse, min(fit$starts$sse))
  one <- quietly(moe_fit(d$x1, d$y, k = 2, start = s2, nstart = 0))
  expect_identical(fit$starts$sse[2], one$sse)
})

test_that("an over-specified fit (k = 3 for k* = 2) returns finite results", {
  set.seed(16)
  d <- moe_simulate(relu_truth, n = 800, sd = 0.05)
  for (gating in c("sigmoid", "softmax")) {
    fit <- quietly(moe_fit(d$x1, d$y, k = 3, gating = gating, nstart = 4))
    expect_true(all(is.finite(fit$theta)), label = paste(gating, "theta"))
    expect_true(all(is.finite(fit$fitted.values)))
    expect_true(all(is.finite(fit$jtj)))
    expect_true(all(is.finite(fit$starts$sse)))
    expect_true(is.finite(fit$sse) && is.finite(fit$sigma))
    expect_false(anyNA(unlist(fit$coefficients[c("beta0", "beta1", "a", "b")])))
    expect_lt(l2_on_grid(fit$coefficients, relu_truth), 0.03)
  }
})

test_that("constant y and a constant column of x fit without error or NaN", {
  set.seed(17)
  x <- runif(200, -1, 1)
  fit <- quietly(moe_fit(x, rep(0.3, 200), k = 2, nstart = 3))
  expect_true(all(is.finite(fit$theta)))
  expect_false(anyNA(fit$fitted.values))
  expect_lt(max(abs(fit$fitted.values - 0.3)), 1e-3)
  fit0 <- quietly(moe_fit(x, numeric(200), k = 2, expert = "linear", nstart = 2))
  expect_true(all(is.finite(fit0$theta)))
  expect_lt(fit0$sse, 1e-10)

  xc <- cbind(x, 1)
  y <- ref_mean(list(beta0 = c(0, 0), beta1 = cbind(c(6, -6), 0), a = cbind(c(1, -1), 0),
                     b = c(0.2, 0.2)), xc, "sigmoid", "relu") + rnorm(200, sd = 0.05)
  for (gating in c("sigmoid", "softmax", "normalized_sigmoid")) {
    fc <- quietly(moe_fit(xc, y, k = 2, gating = gating, nstart = 3))
    expect_true(all(is.finite(fc$theta)), label = paste(gating, "theta with a constant column"))
    expect_false(anyNA(fc$fitted.values))
    expect_true(is.finite(fc$sse))
  }
})

test_that("every bad input of moe_fit is an error naming the argument", {
  set.seed(18)
  x <- runif(50, -1, 1); y <- x + rnorm(50, sd = 0.1)
  expect_error(moe_fit(replace(x, 3, NA), y, k = 2), "`x`.*element 3 is NA")
  expect_error(moe_fit(replace(x, 3, NaN), y, k = 2), "`x`.*element 3 is NaN")
  expect_error(moe_fit(replace(x, 4, Inf), y, k = 2), "`x`.*element 4 is Inf")
  expect_error(moe_fit(x, replace(y, 5, NA), k = 2), "`y`.*element 5 is NA")
  expect_error(moe_fit(x, replace(y, 5, NaN), k = 2), "`y`")
  expect_error(moe_fit(x, replace(y, 1, -Inf), k = 2), "`y`.*-Inf")
  expect_error(moe_fit(as.character(x), y, k = 2), "`x`")
  expect_error(moe_fit(data.frame(u = x, v = letters[1:2]), y, k = 2), "`x`")
  expect_error(moe_fit(list(x), y, k = 2), "`x`")
  expect_error(moe_fit(x, as.character(y), k = 2), "`y`")
  # a logical response is 0 and 1, as lm() and moe() take it
  expect_identical(quietly(moe_fit(x, y > 0, k = 1, gating = "softmax", expert = "linear", nstart = 1))$y,
                   as.double(y > 0))
  expect_error(moe_fit(x, matrix(y, 25), k = 2), "`y`")
  expect_error(moe_fit(x, y[-1], k = 2), "`y` must have one value per row of `x`")
  expect_error(moe_fit(x, c(y, 1), k = 2), "`y`")
  expect_error(moe_fit(x, y, k = 0), "`k` must be a whole number between 1 and 10000, not 0.", fixed = TRUE)
  expect_error(moe_fit(x, y, k = 2.5), "`k` must be a whole number between 1 and 10000, not 2.5.", fixed = TRUE)
  expect_error(moe_fit(x, y, k = -1), "`k`")
  expect_error(moe_fit(x, y, k = NA), "`k`")
  expect_error(moe_fit(x, y, k = "2"), "`k`")
  expect_error(moe_fit(x[1:10], y[1:10], k = 3), "`k`.*free parameters")
  expect_error(moe_fit(x, y, k = 2, gating = "foo"), "`gating`")
  expect_error(moe_fit(x, y, k = 2, expert = "foo"), "`expert`")
  expect_error(moe_fit(x, y, k = 2, expert = "polynomial"), "`degree`")
  expect_error(moe_fit(x, y, k = 2, expert = "polynomial", degree = 1.5), "`degree`")
  expect_error(moe_fit(x, y, k = 2, nstart = -1), "`nstart`")
  expect_error(moe_fit(x, y, k = 2, nstart = 1.5), "`nstart`")
  expect_error(moe_fit(x, y, k = 2, nstart = 0), "`nstart`")
  expect_error(moe_fit(x, y, k = 2, control = list(foo = 1)), "`control`")
  expect_error(moe_fit(x, y, k = 2, control = "fast"), "`control`")
  expect_error(moe_fit(x, y, k = 2, control = list(maxit = 0)), "`control\\$maxit`")

  good <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  expect_error(moe_fit(x, y, k = 3, start = good), "`start`")
  expect_error(moe_fit(cbind(x, x^2), y, k = 2, start = good), "`start`")
  expect_error(moe_fit(x, y, k = 2, gating = "softmax", start = good), "`start`")
  expect_error(moe_fit(x, y, k = 2, expert = "linear", start = good), "`start`")
  bad <- good; bad$b[1] <- NA
  expect_error(moe_fit(x, y, k = 2, start = bad), "`start`")
  bad <- good; bad$beta1[2, 1] <- Inf
  expect_error(moe_fit(x, y, k = 2, start = bad), "`start`")
  bad <- good; bad$a <- matrix(1, 2, 2)
  expect_error(moe_fit(x, y, k = 2, start = bad), "`start`")
  expect_error(moe_fit(x, y, k = 2, start = list(good, 1)), "`start\\[\\[2\\]\\]`")
  expect_error(moe_fit(x, y, k = 2, start = list()), "`start`")
  expect_error(moe_fit(x, y, k = 2, start = c(0, 0)), "`start`")
  sm <- moe_params(beta0 = c(0, 0), beta1 = c(1, 0), a = c(1, 1), b = c(0, 0), gating = "softmax")
  sm$beta0[2] <- 1
  expect_error(moe_fit(x, y, k = 2, gating = "softmax", start = sm), "`start`")
})

test_that("the iteration limit is a result, not an error", {
  set.seed(22)
  d <- moe_simulate(relu_truth, n = 300, sd = 0.05)
  start <- moe_params(beta0 = c(1, -1), beta1 = c(1, -1), a = c(0.5, -0.5), b = c(0.5, 0.5))
  fit <- quietly(moe_fit(d$x1, d$y, k = 2, start = start, nstart = 2, control = list(maxit = 2)))
  expect_true(all(fit$starts$iterations <= 2))
  expect_identical(fit$starts$converged, fit$starts$code > 0)
  one <- quietly(moe_fit(d$x1, d$y, k = 2, start = start, nstart = 0, control = list(maxit = 1)))
  expect_identical(one$convergence$code, -1L)
  expect_false(one$convergence$converged)
  expect_identical(one$convergence$iterations, 1L)
  expect_true(is.character(one$convergence$message) && nzchar(one$convergence$message))
})

test_that("integer weights give the fit of the data with rows repeated", {
  set.seed(81)
  truth <- moe_params(c(0.5, -0.3), c(2, -3), c(1.5, -1), c(0.3, 0.5), expert = "linear")
  n <- 400
  x <- runif(n, -1, 1)
  y <- moe_mean(truth, x) + rnorm(n, sd = 0.1)
  w <- sample(0:3, n, TRUE)
  ctl <- moe_control(ftol = 1e-12, xtol = 1e-12)
  fw <- quietly(moe_fit(x, y, 2, expert = "linear", start = truth, nstart = 0, weights = w, control = ctl))
  fr <- quietly(moe_fit(rep(x, w), rep(y, w), 2, expert = "linear", start = truth, nstart = 0, control = ctl))
  expect_equal(fw$sse, fr$sse, tolerance = 1e-10)
  # the regression function (this over-parameterised model has a flat
  # direction in theta, which the two sums of rounding resolve differently)
  expect_equal(unname(fitted(fw)), unname(predict(fr, x)), tolerance = 1e-7)
  expect_equal(deviance(fw), sum(w * residuals(fw)^2), tolerance = 1e-10)
  # as nls: rows of weight 0 do not count, the rest count once each
  expect_identical(nobs(fw), sum(w > 0))
  expect_identical(df.residual(fw), sum(w > 0) - 8L)
  expect_equal(sigma(fw), sqrt(fw$sse / (sum(w > 0) - 8)))
  N <- sum(w > 0)
  ll <- -N * (log(2 * pi) + 1 - log(N) - sum(log(w[w > 0])) / N + log(fw$sse)) / 2
  expect_equal(as.numeric(logLik(fw)), ll, tolerance = 1e-12)
  expect_equal(AIC(fw), -2 * ll + 2 * 9, tolerance = 1e-12)
  expect_equal(residuals(fw, type = "pearson"), sqrt(w) * residuals(fw) / sigma(fw))
  # the same through the formula interface, weights evaluated in data
  d <- data.frame(x = x, y = y, w = w)
  fm <- quietly(moe(y ~ x, data = d, k = 2, expert = "linear", start = truth, nstart = 0, weights = w,
            control = ctl))
  expect_equal(fm$theta, fw$theta, tolerance = 1e-12)
})

test_that("weights agree with nls on a smooth problem", {
  set.seed(82)
  n <- 300
  x <- runif(n, -1, 1)
  y <- plogis(0.5 + 2 * x) * (1.5 * x + 0.3) + rnorm(n, sd = 0.05)
  w <- runif(n, 0.2, 3)
  start <- moe_params(0.3, 1.5, 1.2, 0.2, expert = "linear")
  fit <- quietly(moe_fit(x, y, 1, expert = "linear", start = start, nstart = 0, weights = w,
                 control = moe_control(ftol = 1e-12, xtol = 1e-12)))
  ref <- nls(y ~ plogis(g0 + g1 * x) * (a * x + b), data = data.frame(x = x, y = y), weights = w,
             start = list(g0 = 0.3, g1 = 1.5, a = 1.2, b = 0.2))
  expect_equal(unname(fit$theta), unname(coef(ref)), tolerance = 1e-6)
  expect_equal(deviance(fit), deviance(ref), tolerance = 1e-8)
  expect_equal(sigma(fit), sigma(ref), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8)
  expect_equal(unname(vcov(fit)), unname(vcov(ref)), tolerance = 1e-5)
  expect_equal(residuals(fit), as.numeric(residuals(ref)), tolerance = 1e-6, ignore_attr = TRUE)
})

test_that("an offset is the fit of y minus the offset", {
  set.seed(83)
  truth <- moe_params(c(0.5, -0.3), c(2, -3), c(1.5, -1), c(0.3, 0.5), expert = "linear")
  n <- 300
  x <- runif(n, -1, 1)
  y <- moe_mean(truth, x) + rnorm(n, sd = 0.1)
  off <- rnorm(n)
  f0 <- quietly(moe_fit(x, y, 2, expert = "linear", start = truth, nstart = 0))
  fo <- quietly(moe_fit(x, y + off, 2, expert = "linear", start = truth, nstart = 0, offset = off))
  expect_equal(fo$theta, f0$theta, tolerance = 1e-9)
  expect_equal(fitted(fo), fitted(f0) + off, tolerance = 1e-9)
  expect_equal(residuals(fo), residuals(f0), tolerance = 1e-9)
  expect_equal(predict(fo, c(-0.5, 0.5), offset = c(1, 2)), predict(f0, c(-0.5, 0.5)) + c(1, 2))
  expect_error(predict(fo, c(-0.5, 0.5)), "`offset` must be given")
  # formula: offset() terms and the offset argument add up
  d <- data.frame(x = x, y = y + off, o1 = off / 2, o2 = off / 2)
  fm <- quietly(moe(y ~ x + offset(o1), data = d, k = 2, expert = "linear", start = truth, nstart = 0,
            offset = o2))
  expect_equal(fm$theta, f0$theta, tolerance = 1e-9)
  nd <- data.frame(x = c(-0.5, 0.5), o1 = c(1, 2), o2 = c(0.5, 0))
  expect_equal(unname(predict(fm, nd)), unname(predict(f0, c(-0.5, 0.5)) + c(1.5, 2)), tolerance = 1e-9)
})

test_that("bad weights, offsets and unknown arguments are errors naming them", {
  set.seed(84)
  x <- runif(50); y <- x + rnorm(50)
  expect_error(moe_fit(x, y, 1, weights = rep(1, 49)), "`weights` must have one value per observation")
  expect_error(moe_fit(x, y, 1, weights = c(-1, rep(1, 49))), "`weights` must be finite numbers >= 0; element 1")
  expect_error(moe_fit(x, y, 1, weights = rep(0, 50)), "`weights` must not all be 0")
  expect_error(moe_fit(x, y, 1, weights = "a"), "`weights` must be NULL or a numeric vector")
  expect_error(moe_fit(x, y, 1, offset = c(NA, rep(0, 49))), "`offset` must contain only finite values")
  expect_error(moe_fit(x, y, 1, offset = 1:3), "`offset` must have one value per observation")
  expect_error(moe(y ~ x, data = data.frame(x = x, y = y), k = 1, foo = 2),
               "`foo` is not an argument of moe\\(\\) or moe_fit\\(\\)")
  expect_error(moe_fit(x, y, 1, foo = 2), "unused argument \\(foo = 2\\)")
})


test_that("each warning of a fit is a classed condition triggered by its case", {
  set.seed(85)
  truth <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2))
  d <- moe_simulate(truth, 500, 0.05)
  # the iteration limit
  expect_warning(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0, control = list(maxit = 1)),
                 class = "sigmoe_not_converged")
  # ... which says what to try
  expect_warning(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0, control = list(maxit = 1)),
                 "raise `control\\$maxit`, try `control = moe_control\\(accel = TRUE\\)`")
  # two starts ending in different minima: the best reached by one of them
  far <- moe_params(c(3, 3), c(0.1, 0.2), c(-0.5, -0.5), c(0, 0))
  expect_warning(moe_fit(d$x1, d$y, 2, start = list(truth, far), nstart = 0),
                 class = "sigmoe_single_best")
  # sigmoid experts are in (0, 1): a response near -5 is out of reach, and the
  # fit explains less than the mean does
  yneg <- -5 + rnorm(500, sd = 0.1)
  expect_warning(moe_fit(d$x1, yneg, 1, expert = "sigmoid", nstart = 2),
                 class = "sigmoe_no_better_than_mean")
  # a binding box
  expect_warning(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0, upper = list(beta1 = 6)),
                 class = "sigmoe_at_bound")
  # every warning of a fit is a sigmoe_fit_warning, and a clean fit is silent
  expect_warning(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0, control = list(maxit = 1)),
                 class = "sigmoe_fit_warning")
  expect_silent(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0))
})

test_that("a runaway parameter is a gate turned into a step or an expert far too steep", {
  set.seed(86)
  truth <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2))
  d <- moe_simulate(truth, 300, 0.05)
  fit <- moe_fit(d$x1, d$y, 2, start = truth, nstart = 0)
  expect_identical(sigmoe:::runaway_parameters(fit), character(0))
  steep <- fit
  steep$coefficients$beta1[2, 1] <- 1e3 / sd(d$x1) * 1.01
  steep$coefficients$a[1, 1] <- 1e3 * sd(d$y) / sd(d$x1) * 1.01
  # in the order of theta: expert 1 (a) before expert 2 (beta1)
  expect_identical(sigmoe:::runaway_parameters(steep), c("a[1,1]", "beta1[2,1]"))
  # just inside the thresholds nothing has run off
  steep$coefficients$beta1[2, 1] <- 1e3 / sd(d$x1) * 0.99
  steep$coefficients$a[1, 1] <- 1e3 * sd(d$y) / sd(d$x1) * 0.99
  expect_identical(sigmoe:::runaway_parameters(steep), character(0))
  steep$coefficients$a[1, 1] <- 1e3 * sd(d$y) / sd(d$x1) * 1.01
  expect_identical(sigmoe:::runaway_parameters(steep), "a[1,1]")
  steep$coefficients$beta1[2, 1] <- 1e3 / sd(d$x1) * 1.01
  steep$diagnostics$runaway <- sigmoe:::runaway_parameters(steep)
  expect_warning(sigmoe:::fit_warn(steep), class = "sigmoe_runaway")
  # a step in the data makes the fitted gate run off, end to end
  x <- seq(-1, 1, length.out = 400)
  y <- ifelse(x > 0.1, 1, 0)
  seen <- character(0)
  withCallingHandlers(moe_fit(x, y, 2, expert = "linear", nstart = 3, control = list(maxit = 2000)),
                      warning = function(w) {
                        seen <<- c(seen, class(w)[1L])
                        invokeRestart("muffleWarning")
                      })
  expect_true("sigmoe_runaway" %in% seen)
})

test_that("with output weights an expert's slope is c a: a huge weight runs off too", {
  set.seed(87)
  x <- runif(300, -1, 1)
  y <- -2 * pmax(x, 0) + rnorm(300, sd = 0.05)
  fit <- quietly(moe_fit(x, y, 2, output_weight = TRUE, nstart = 2))
  expect_identical(sigmoe:::runaway_parameters(fit), character(0))
  p <- fit$coefficients
  # expert 1's slope a made ordinary, its weight so large that c a is 1.01
  # and then 0.99 thousand times the response's spread per input spread
  limit <- 1e3 * sd(y) / sd(x)
  steep <- fit
  steep$coefficients$a[1, 1] <- 2
  steep$coefficients$c[1] <- 1.01 * limit / 2
  expect_lt(2 * sd(x), 1e3 * sd(y))
  expect_identical(sigmoe:::runaway_parameters(steep), c("a[1,1]", "c[1]"))
  steep$coefficients$c[1] <- -0.99 * limit / 2
  expect_identical(sigmoe:::runaway_parameters(steep), character(0))
  steep$coefficients$c[1] <- -1.01 * limit / 2
  expect_identical(sigmoe:::runaway_parameters(steep), c("a[1,1]", "c[1]"))
  # a long list is cut, and says how long it was
  steep$diagnostics$runaway <- sprintf("a[%d,1]", 1:6)
  # (the fit's other diagnostics are not what this checks)
  steep$diagnostics$n_best <- steep$diagnostics$n_starts
  expect_warning(sigmoe:::fit_warn(steep), "6 parameters ran off \\(a\\[1,1\\], a\\[2,1\\], a\\[3,1\\], a\\[4,1\\], \\.\\.\\. \\(6 in all\\)\\)",
                 class = "sigmoe_runaway")
})

test_that("a fit no better than the mean says when the experts cannot take the response's sign", {
  set.seed(88)
  x <- runif(200, -1, 1)
  y <- -3 + 0.5 * x + rnorm(200, sd = 0.1)
  hint <- "`output_weight = TRUE` lets it take any sign"
  for (e in c("relu", "sigmoid")) {
    said <- character(0)
    withCallingHandlers(moe_fit(x, y, 1, expert = e, nstart = 2),
                        sigmoe_no_better_than_mean = function(w) said <<- conditionMessage(w),
                        warning = function(w) invokeRestart("muffleWarning"))
    expect_match(said, hint, fixed = TRUE)
  }
  # the mean model is what a fit of a negative response by ReLU experts
  # cannot beat: with output weights it can, and no warning says otherwise
  seen <- character(0)
  withCallingHandlers(moe_fit(x, y, 1, expert = "relu", output_weight = TRUE, nstart = 2),
                      warning = function(w) {
                        seen <<- c(seen, class(w)[1L])
                        invokeRestart("muffleWarning")
                      })
  expect_false("sigmoe_no_better_than_mean" %in% seen)
  # a linear expert gets the general advice only
  fit <- quietly(moe_fit(x, y, 1, expert = "linear", nstart = 2))
  fit$sse <- fit$diagnostics$sse_intercept
  w <- tryCatch(sigmoe:::fit_warn(fit), sigmoe_no_better_than_mean = function(w) w)
  expect_match(conditionMessage(w), "check the expert type and k\\.$")
})

test_that("the default search screens on a subsample, polishes on all rows and keeps every start", {
  set.seed(87)
  truth <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2))
  d <- moe_simulate(truth, 5000, 0.05)
  set.seed(1)
  fit <- quietly(moe_fit(d$x1, d$y, 2))
  st <- fit$starts
  expect_true(all(c("screen", "polish") %in% st$stage))
  expect_true(all(c("swap", "cross") %in% st$source))
  ctl <- moe_control()
  expect_gte(sum(st$stage == "screen"), ctl$min_starts)
  expect_lte(sum(st$stage == "screen" & st$source == "data"), ctl$max_starts)
  expect_lte(sum(st$stage == "polish"), ctl$polish)
  # the fit is the best polished run, on all the data
  expect_identical(fit$sse, min(st$sse[st$stage == "polish"]))
  # a polished run keeps the source of the screened minimum it refines: the
  # first is the best screened one
  screen <- st[st$stage == "screen", ]
  polish <- st[st$stage == "polish", ]
  expect_identical(polish$source[1L], screen$source[which.min(screen$sse)])
  expect_true(all(polish$source %in% screen$source))
  # it is at least as good as one local search from the truth
  f1 <- quietly(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0))
  expect_lte(fit$sse, f1$sse * (1 + 1e-6))
  # small data: no subsample, every start is on all the rows
  set.seed(2)
  small <- quietly(moe_fit(d$x1[1:500], d$y[1:500], 2))
  expect_true(all(small$starts$stage == "full"))
  # reproducible from the seed
  set.seed(1)
  again <- quietly(moe_fit(d$x1, d$y, 2))
  expect_identical(again$theta, fit$theta)
  expect_identical(again$starts, fit$starts)
})

test_that("output weights let non-linear experts fit a response of any sign", {
  f <- faithful
  set.seed(1)
  plain <- quietly(moe(eruptions ~ waiting, data = f, k = 2, expert = "sigmoid"))
  set.seed(1)
  weighted <- quietly(moe(eruptions ~ waiting, data = f, k = 2, expert = "sigmoid", output_weight = TRUE))
  tss <- sum((f$eruptions - mean(f$eruptions))^2)
  # a sigmoid expert is in (0, 1): without a weight it cannot reach eruptions
  # of 2 to 5 minutes, with one it beats the mean by far
  expect_gt(deviance(plain), tss)
  expect_lt(deviance(weighted), 0.2 * tss)
  expect_length(coef(weighted)$c, 2L)
  expect_true(all(grepl("^c\\[", utils::tail(names(coef(weighted, type = "theta")), 1L))))
  # a negative response for ReLU experts
  set.seed(2)
  x <- runif(400, -1, 1)
  y <- -2 * pmax(x, 0) + rnorm(400, sd = 0.05)
  fit <- quietly(moe_fit(x, y, 1, output_weight = TRUE, lower = list(beta0 = 5), upper = list(beta0 = 10)))
  expect_lt(fit$sse, 400 * 0.05^2 * 1.2)
  # weights, bounds and starts know the output weights
  expect_error(moe_fit(x, y, 1, expert = "linear", output_weight = TRUE), "`output_weight` must be FALSE")
  expect_error(moe_fit(x, y, 1, output_weight = NA), "`output_weight`")
  st <- moe_params(1, 0, 1, 0, expert = "relu")
  expect_error(moe_fit(x, y, 1, output_weight = TRUE, start = st, nstart = 0),
               "`start` has no output weights `c` but the model being fitted has them")
  fb <- quietly(moe_fit(x, y, 1, output_weight = TRUE, upper = list(c = -3)))
  expect_true(fb$theta[["c[1]"]] <= -3)
  expect_error(voronoi_loss(fit, moe_params(0, 0, 1, 0)), "`fit` has output weights")
  expect_error(moe_params(0, 0, 1, 0, expert = "linear", c = 2), "`c` \\(output weights\\) must be NULL")
})

test_that("a fit of one observation (one free parameter) has no NA in its checks", {
  fit <- quietly(moe_fit(0.5, 1, k = 1, gating = "softmax", expert = "constant"))
  expect_equal(fit$sse, 0, tolerance = 1e-20)
  expect_identical(fit$diagnostics$runaway, character(0))
})

test_that("geodesic acceleration ends the crawl of a saturating gate at a local minimum", {
  pb <- crawl_problem()
  fit_with <- function(...) quietly(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0,
                                            control = moe_control(maxit = 1000, ...)))
  plain <- fit_with(accel = FALSE)
  acc <- fit_with(accel = TRUE)
  expect_gt(plain$convergence$iterations, 200L)
  expect_lt(acc$convergence$iterations, 100L)
  expect_true(acc$convergence$converged)
  expect_lte(acc$sse, plain$sse)
  # a local minimum, not a stop on the way: the plain solver, restarted from
  # it with tight tolerances, finds no lower SSE to 1e-6 relative
  again <- quietly(moe_fit(pb$x, pb$y, k = 3, start = coef(acc), nstart = 0,
                           control = moe_control(maxit = 1000, ftol = 1e-14, xtol = 1e-14)))
  expect_gt(again$sse, acc$sse * (1 - 1e-6))
  # the SSE is the plain-R SSE at the parameters
  expect_equal(acc$sse, sum((pb$y - ref_mean(coef(acc), pb$x, "sigmoid", "relu"))^2),
               tolerance = 1e-10)
})

test_that("the flat-valley rule stops at the first iteration its test holds", {
  pb <- crawl_problem()
  n <- length(pb$y)
  for (cfg in list(list(m = 10L, tol = 1), list(m = 5L, tol = 0.1))) {
    fit <- quietly(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0,
                           control = moe_control(maxit = 1000, valley_m = cfg$m,
                                                 valley_tol = cfg$tol)))
    cv <- fit$convergence
    expect_identical(cv$code, 6L)
    expect_true(cv$converged)
    tr <- cv$trace
    P <- length(fit$theta)
    # the rule on the trace, in plain R: drop over the last m iterations at
    # most tol noise variances, sse / (n - P)
    holds <- vapply(seq_along(tr) - 1L, function(it)
      it >= cfg$m && tr[it + 1L] >= 0 && tr[it - cfg$m + 1L] - tr[it + 1L] <= cfg$tol * tr[it + 1L] / (n - P),
      logical(1))
    expect_identical(which(holds)[1L] - 1L, cv$iterations)
    expect_identical(tr[length(tr)], fit$sse)
  }
  # off by default: the same fit runs on to its usual stop
  expect_false(quietly(moe_fit(pb$x, pb$y, k = 3, start = pb$start, nstart = 0))$convergence$code == 6L)
})

test_that("a control object made before the new solver settings replays the old solver", {
  ctl <- moe_control(accel = TRUE, valley_tol = 1, varpro = TRUE)
  old <- ctl
  old$accel <- NULL
  old$valley_tol <- NULL
  old$valley_m <- NULL
  old$varpro <- NULL
  old$trust <- NULL
  got <- sigmoe:::check_control(old)
  expect_false(got$accel)
  expect_false(got$varpro)
  expect_false(got$trust)
  expect_identical(got$valley_tol, 0)
  # a named list takes the defaults, which are the same
  expect_false(sigmoe:::check_control(list(maxit = 10))$accel)
  # a study's design names the new settings only when they are used
  expect_false(any(c("accel", "valley_m", "valley_tol", "varpro", "trust") %in%
                     names(sigmoe:::study_key_control(moe_control()))))
  key <- sigmoe:::study_key_control(ctl)
  expect_true(isTRUE(key$accel) && key$valley_tol == 1 && key$valley_m == 10L && isTRUE(key$varpro))
})
