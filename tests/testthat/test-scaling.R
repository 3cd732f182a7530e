# The fit's own coordinates (R/scaling.R): a fit is equivariant to the
# location and scale of x and y, and the maps are exact.

scaling_data <- function(n = 2000, seed = 1) {
  set.seed(seed)
  truth <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2))
  d <- moe_simulate(truth, n, 0.05)
  list(x = d$x1, y = d$y, truth = truth)
}

# The start of a fit of y on a * x + c that is the same model as `p` on x.
shift_start <- function(p, a, c) {
  p$beta0 <- p$beta0 - drop(p$beta1) * c / a
  p$b <- p$b - drop(p$a) * c / a
  p$beta1 <- p$beta1 / a
  p$a <- p$a / a
  p
}

test_that("the reproducers: a shifted or huge x gives the fit of x", {
  d <- scaling_data()
  set.seed(2)
  f0 <- quietly(moe_fit(d$x, d$y, 2))
  set.seed(2)
  f1 <- quietly(moe_fit(d$x + 1e4, d$y, 2))
  expect_equal(f1$sse, f0$sse, tolerance = 1e-6)
  expect_equal(unname(fitted(f1)), unname(fitted(f0)), tolerance = 1e-5)
  expect_true(f1$convergence$converged)
  set.seed(2)
  f2 <- quietly(moe_fit(d$x * 1e300, d$y, 2))
  expect_equal(f2$sse, f0$sse, tolerance = 1e-6)
  expect_gt(f2$convergence$iterations, 0)
  # the total sum of squares is far above: the fit is not the flat one
  expect_lt(f1$sse, 0.05 * sum(d$y^2))
})

test_that("far from 0 the residuals still add up to the deviance: fitted values in the fit's coordinates", {
  # x centred by the fit: the parameters in the data's coordinates carry
  # beta0 - beta1 centre, whose evaluation would lose |centre| / spread
  # roundings (a relative 1e-4 in the SSE at a shift of 1e12)
  set.seed(3)
  u <- runif(300, -1, 1)
  y <- ifelse(u > 0, 2 * u, -u) + rnorm(300, sd = 0.05)
  w <- runif(300, 0.5, 2)
  for (shift in c(1e6, 1e10, 1e12)) for (e in c("relu", "linear")) {
    fit <- quietly(moe_fit(u + shift, y, 2, expert = e, nstart = 3, weights = w, offset = 0.1 * u))
    expect_true(any(unclass(fit$scaling)$center != 0))
    expect_equal(sum(w * residuals(fit)^2), deviance(fit), tolerance = 1e-12,
                 label = sprintf("shift %g, %s", shift, e))
  }
  # not centred: the model evaluated from the coefficients, as before
  fit <- quietly(moe_fit(u, y, 2, nstart = 3))
  expect_true(all(unclass(fit$scaling)$center == 0))
  expect_identical(unname(fitted(fit)), unname(drop(moe_mean(coef(fit), u))))
})

test_that("fits of a * x + c are the fit of x after the change of variables", {
  # a smooth, well identified model (one sigmoid-gated linear expert), so
  # that the minimum is unique and sharp and every fit must find it
  set.seed(3)
  x <- runif(1000, -1, 1)
  truth <- moe_params(0.5, 2, 1.5, 0.3, expert = "linear")
  y <- moe_mean(truth, x) + rnorm(1000, sd = 0.05)
  ctl <- moe_control(ftol = 1e-14, xtol = 1e-14, gtol = 1e-12, maxit = 500)
  ref <- quietly(moe_fit(x, y, 1, expert = "linear", start = truth, nstart = 0, control = ctl))
  for (a in c(1e-8, 1e-4, 0.3, 7, 1e4, 1e8)) for (c in c(0, 1e-8, 0.5, 3, 1e4, 1e8)) {
    # a * x + c keeps at least 8 significant digits of x
    if (abs(c) > 1e7 * a) next
    fit <- quietly(moe_fit(a * x + c, y, 1, expert = "linear", start = shift_start(truth, a, c),
                   nstart = 0, control = ctl))
    label <- sprintf("a = %g, c = %g", a, c)
    expect_equal(fit$sse, ref$sse, tolerance = 1e-10, label = label)
    expect_equal(unname(fitted(fit)), unname(fitted(ref)), tolerance = 1e-6, label = label)
    expect_equal(drop(coef(fit)$beta1) * a, drop(coef(ref)$beta1), tolerance = 1e-5, label = label)
    expect_equal(coef(fit)$beta0 + unname(drop(coef(fit)$beta1)) * c, coef(ref)$beta0, tolerance = 1e-5,
                 label = label)
  }
})

test_that("fits of s * y are s times the fit of y for the homogeneous experts", {
  d <- scaling_data(1000, seed = 4)
  ctl <- moe_control(ftol = 1e-12, xtol = 1e-12, gtol = 1e-10)
  for (e in c("relu", "linear")) {
    start <- moe_params(c(0.2, -0.1), c(5, -5), c(0.9, -1.1), c(0.1, 0.3), expert = e)
    ref <- quietly(moe_fit(d$x, d$y, 2, expert = e, start = start, nstart = 0, control = ctl))
    for (s in c(1e-8, 1e-3, 1, 1e3, 1e8)) {
      st <- start
      st$a <- st$a * s; st$b <- st$b * s
      fit <- quietly(moe_fit(d$x, s * d$y, 2, expert = e, start = st, nstart = 0, control = ctl))
      expect_equal(fit$sse / s^2, ref$sse, tolerance = 1e-7, label = sprintf("%s, s = %g", e, s))
      expect_equal(unname(fitted(fit)) / s, unname(fitted(ref)), tolerance = 1e-5)
    }
  }
})

test_that("the maps between the data's coordinates and the fit's are exact inverses", {
  set.seed(5)
  for (cs in list(list(g = "sigmoid", e = "relu", deg = NULL), list(g = "softmax", e = "linear", deg = NULL),
                  list(g = "sigmoid", e = "polynomial", deg = 3L), list(g = "softmax", e = "constant", deg = NULL))) {
    d <- 2L; k <- 3L
    x <- cbind(rnorm(50, 1e5, 3), rnorm(50, 0, 1e-6))
    y <- rnorm(50, 0, 1e4)
    tpl <- moe_params(numeric(k), matrix(0, k, d), if (cs$e == "constant") NULL else matrix(0, k, d),
                      numeric(k), gating = cs$g, expert = cs$e, degree = cs$deg)
    box <- sigmoe:::box_theta(-Inf, Inf, tpl)
    sc <- sigmoe:::fit_scaling(x, y, tpl, box)
    expect_false(sc$identity)
    expect_identical(sc$center, c(mean(x[, 1]), 0))
    theta <- rnorm(sigmoe:::n_free_params(k, d, cs$g, cs$e))
    there <- sigmoe:::scale_theta(sc, theta, tpl, "fit")
    back <- sigmoe:::scale_theta(sc, there, tpl, "data")
    # exact for the scales (powers of two); a centre c costs rounding of |c| eps
    expect_equal(back, theta, tolerance = 1e-9)
    # the model is the same: f(x; theta) = yscale * f(u; theta_fit)
    dat <- sigmoe:::scale_data(sc, x, y)
    p <- sigmoe:::theta_params(theta, tpl)
    q <- sigmoe:::theta_params(there, tpl)
    expect_equal(moe_mean(q, dat$x) * sc$yscale, moe_mean(p, x), tolerance = 1e-9)
    # J'J is mapped by the matrix of the linear map theta -> theta_fit, here
    # built column by column from the map itself
    P <- length(theta)
    Tm <- vapply(seq_len(P), function(j) sigmoe:::scale_theta(sc, replace(numeric(P), j, 1), tpl, "fit"),
                 numeric(P))
    A <- crossprod(matrix(rnorm(3 * P * P), 3 * P, P))
    expect_equal(sigmoe:::scale_jtj(unclass(sc), A, tpl), sc$yscale^2 * t(Tm) %*% A %*% Tm,
                 tolerance = 1e-13)
  }
})

test_that("a box is mapped exactly and is kept: no centring when the intercepts are bounded", {
  d <- scaling_data(800, seed = 6)
  # a box on the slopes alone leaves the intercepts free: centred
  fit <- quietly(moe_fit(d$x * 1e6 + 3e6, d$y, 2, upper = list(beta1 = 1e-5), nstart = 3))
  expect_true(fit$scaling$center != 0)
  expect_true(all(fit$theta[grepl("beta1", names(fit$theta))] <= 1e-5))
  # a box on the gate intercepts: not centred, the box still holds
  fit1 <- quietly(moe_fit(d$x * 1e6 + 3e6, d$y, 2, lower = list(beta0 = -1e9), nstart = 3))
  expect_identical(fit1$scaling$center, 0)
  expect_true(all(fit1$theta[grepl("beta0", names(fit1$theta))] >= -1e9))
  fit2 <- quietly(moe_fit(d$x * 1e6, d$y * 1e6, 2, lower = list(b = 0), nstart = 3))
  expect_true(fit2$scaling$yscale != 1 && all(fit2$scaling$scale != 1))
  expect_true(all(fit2$theta[grepl("^b\\[", names(fit2$theta))] >= 0))
})

test_that("data of ordinary size are used as they are", {
  d <- scaling_data(500, seed = 7)
  set.seed(8)
  fit <- quietly(moe_fit(d$x, d$y, 2, nstart = 2))
  expect_true(fit$scaling$identity)
})

test_that("the column spreads in C are the plain-R RMS of x[, j] - mean to the last bit", {
  set.seed(41)
  n <- 5003
  x <- cbind(rnorm(n), runif(n, -1, 1) * 1e300, rnorm(n, 1e4, 1e-3), 7, rexp(n) * 1e-300,
             c(1e308, -1e308, rep(0, n - 2)))
  mu <- colMeans(x)
  ref <- vapply(seq_len(ncol(x)), function(j) ref_safe_rms(x[, j] - mu[j]), numeric(1))
  expect_identical(.Call(sigmoe:::C_col_spread, x, mu), ref)
  one <- matrix(3, 1, 2)
  expect_identical(.Call(sigmoe:::C_col_spread, one, colMeans(one)), c(0, 0))
  # a vector is one column, and not centred with mu = 0
  y <- rnorm(n) * 1e-200
  expect_identical(.Call(sigmoe:::C_col_spread, y, 0), ref_safe_rms(y))
  expect_error(.Call(sigmoe:::C_col_spread, 1:3, 1), "double matrix")
})
