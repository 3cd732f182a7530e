# Variable projection (moe_control(varpro = TRUE)): for experts linear in
# their parameters, the solver keeps the experts' parameters at their least-
# squares optimum given the gates. Checked against plain-R least squares on
# the design of the gates (lm.fit, lm.wfit), a finite-difference gradient,
# the plain solver restarted from the answer, and the model in plain R.

# Data of two linear experts, fitted with three (over-specified) or two.
vp_data <- function(n = 2000, gating = "sigmoid", seed = 3) {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "linear")
  set.seed(seed)
  d <- moe_simulate(truth, n = n, sd = 0.1)
  list(x = matrix(d$x1, ncol = 1L), y = d$y)
}

# The design of the linear part at the fitted gates, in plain R: columns
# g_i(x) x and g_i(x) for each expert i (g_i alone for a constant expert).
vp_design <- function(fit, x, constant = FALSE) {
  p <- coef(fit)
  k <- length(p$beta0)
  z <- matrix(ref_gate_inputs(p$beta0, p$beta1, x), nrow(x), k)
  g <- ref_gates(z, p$gating)
  do.call(cbind, lapply(seq_len(k), function(i) if (constant) g[, i] else cbind(g[, i] * x, g[, i])))
}

vp_fit <- function(dat, k, gating, start = NULL, varpro = TRUE, expert = "linear", ctl = list(), ...) {
  set.seed(1)
  quietly(moe_fit(dat$x, dat$y, k = k, gating = gating, expert = expert, start = start,
                  nstart = if (is.null(start)) 4L else 0L,
                  control = do.call(moe_control, c(list(varpro = varpro, maxit = 1000), ctl)), ...))
}

# A start near the truth of vp_data() with k experts (k = 3: the first
# expert split in two, with slightly different gates).
vp_start <- function(gating, k = 2) {
  if (k == 2) {
    if (gating == "softmax")
      moe_params(beta0 = c(0.4, 0), beta1 = c(2.6, 0), a = c(1.3, -0.8), b = c(0.25, 0.3),
                 gating = "softmax", expert = "linear")
    else moe_params(beta0 = c(0.2, -0.2), beta1 = c(1.4, -1.4), a = c(1.3, -0.8), b = c(0.25, 0.3),
                    gating = "sigmoid", expert = "linear")
  } else {
    if (gating == "softmax")
      moe_params(beta0 = c(0.6 + log(0.5), 0.4 + log(0.5), 0), beta1 = c(3.1, 2.9, 0),
                 a = c(1.4, 1.6, -1), b = c(0.3, 0.3, 0.2), gating = "softmax", expert = "linear")
    else moe_params(beta0 = c(0.25, 0.3, -0.25), beta1 = c(1.6, 1.4, -1.5), a = c(1.4, 1.6, -1),
                    b = c(0.3, 0.3, 0.2), gating = "sigmoid", expert = "linear")
  }
}

test_that("the experts' parameters solve the least squares given the fitted gates", {
  dat <- vp_data()
  for (gating in c("sigmoid", "softmax")) {
    fit <- vp_fit(dat, 2, gating, start = vp_start(gating))
    expect_true(fit$convergence$converged)
    expect_length(fit$diagnostics$at_bound, 0L)
    Phi <- vp_design(fit, dat$x)
    ls <- lm.fit(Phi, dat$y)
    p <- coef(fit)
    expect_equal(as.vector(t(cbind(p$a, p$b))), unname(ls$coefficients), tolerance = 1e-6,
                 info = gating)
    # over-specified: the twin experts' parameters are barely determined, the
    # fitted values of the linear part are
    fit3 <- vp_fit(dat, 3, gating, start = vp_start(gating, 3))
    Phi3 <- vp_design(fit3, dat$x)
    p3 <- coef(fit3)
    expect_equal(drop(Phi3 %*% as.vector(t(cbind(p3$a, p3$b)))), unname(lm.fit(Phi3, dat$y)$fitted.values),
                 tolerance = 1e-6, info = gating)
  }
})

test_that("a projected fit ends at a local minimum of the same SSE", {
  dat <- vp_data(n = 1500, seed = 7)
  for (gating in c("sigmoid", "softmax")) {
    fit <- vp_fit(dat, 2, gating, start = vp_start(gating))
    expect_true(fit$convergence$converged)
    # the SSE is the plain-R SSE at the parameters
    expect_equal(fit$sse, sum((dat$y - ref_mean(coef(fit), dat$x, gating, "linear"))^2),
                 tolerance = 1e-10)
    # the plain solver, restarted from it with tight tolerances, finds no
    # lower SSE to 1e-8 relative
    again <- vp_fit(dat, 2, gating, start = coef(fit), varpro = FALSE,
                    ctl = list(ftol = 1e-14, xtol = 1e-14))
    expect_gt(again$sse, fit$sse * (1 - 1e-8))
    # and the gradient of the SSE, by central differences, is nearly
    # orthogonal to the residuals along every parameter
    J <- fd_jacobian(coef(fit), dat$x)
    r <- dat$y - moe_mean(coef(fit), dat$x)
    cosines <- abs(crossprod(J, r)) / sqrt(colSums(J^2) * sum(r^2))
    expect_lt(max(cosines), 1e-4)
  }
})

test_that("projection takes fewer passes than the plain solver on a flat valley", {
  dat <- vp_data(n = 3000, seed = 11)
  start <- moe_params(beta0 = c(0.5 + log(0.5), 0.5 + log(0.5), 0), beta1 = c(3.05, 2.95, 0),
                      a = c(1.5, 1.5, -1), b = c(0.3, 0.3, 0.2), gating = "softmax", expert = "linear")
  vp <- vp_fit(dat, 3, "softmax", start = start)
  lm <- vp_fit(dat, 3, "softmax", start = start, varpro = FALSE)
  expect_lt(vp$convergence$evaluations, lm$convergence$evaluations)
  # the trace marks the projected iterations
  out <- capture.output(quietly(moe_fit(dat$x, dat$y, k = 3, gating = "softmax", expert = "linear",
                                         start = start, nstart = 0,
                                         control = moe_control(varpro = TRUE, trace = TRUE))))
  expect_true(any(grepl("(projected)", out, fixed = TRUE)))
})

test_that("weights: the experts' parameters solve the weighted least squares", {
  dat <- vp_data(n = 1200, seed = 5)
  w <- rep(c(0.5, 2, 1), length.out = length(dat$y))
  fit <- vp_fit(dat, 2, "sigmoid", start = vp_start("sigmoid"), weights = w)
  expect_length(fit$diagnostics$at_bound, 0L)
  Phi <- vp_design(fit, dat$x)
  p <- coef(fit)
  expect_equal(as.vector(t(cbind(p$a, p$b))), unname(lm.wfit(Phi, dat$y, w)$coefficients),
               tolerance = 1e-6)
})

test_that("constant experts are projected too", {
  set.seed(2)
  x <- matrix(runif(800, -1, 1), ncol = 1L)
  y <- ifelse(x[, 1] > 0.2, 1, -0.5) + rnorm(800, sd = 0.1)
  fit <- quietly(moe_fit(x, y, k = 2, gating = "sigmoid", expert = "constant", nstart = 0L,
                         start = moe_params(beta0 = c(-0.5, 0.5), beta1 = c(3, -3),
                                            b = c(0.8, -0.3), gating = "sigmoid", expert = "constant"),
                         control = moe_control(varpro = TRUE, maxit = 1000)))
  expect_length(fit$diagnostics$at_bound, 0L)
  Phi <- vp_design(fit, x, constant = TRUE)
  expect_equal(unname(coef(fit)$b), unname(lm.fit(Phi, y)$coefficients), tolerance = 1e-6)
})

test_that("an expert's parameter at a bound: the fit stays in the box, at a constrained minimum", {
  dat <- vp_data(n = 1500, seed = 9)
  # the slopes of the experts may not exceed 1 in size: the truth's 1.5 is out
  lower <- list(a = -1)
  upper <- list(a = 1)
  start <- vp_start("sigmoid")
  start$a[] <- pmin(pmax(start$a, -1), 1)
  fit <- vp_fit(dat, 2, "sigmoid", start = start, lower = lower, upper = upper)
  p <- coef(fit)
  expect_true(all(p$a >= -1 & p$a <= 1))
  expect_gt(length(fit$diagnostics$at_bound), 0L)
  # first-order conditions of the box in plain R: the gradient of the SSE is
  # ~0 along the free parameters and points out of the box at the bound
  J <- fd_jacobian(p, dat$x)
  r <- dat$y - moe_mean(p, dat$x)
  grad <- drop(crossprod(J, r)) # descent direction (-1/2 the gradient of the SSE)
  at <- names(fit$theta) %in% fit$diagnostics$at_bound
  cosines <- abs(grad) / sqrt(colSums(J^2) * sum(r^2))
  expect_lt(max(cosines[!at]), 1e-3)
  th <- fit$theta[at]
  expect_true(all(ifelse(th >= 1, grad[at] >= 0, grad[at] <= 0)))
  # the free experts' parameters solve the least squares given the gates,
  # with those at a bound held there
  Phi <- vp_design(fit, dat$x)
  psi <- as.vector(t(cbind(p$a, p$b)))
  held <- c(rbind(p$a[, 1] <= -1 | p$a[, 1] >= 1, FALSE))
  expect_true(any(held))
  free_fit <- lm.fit(Phi[, !held, drop = FALSE], dat$y - drop(Phi[, held, drop = FALSE] %*% psi[held]))
  expect_equal(psi[!held], unname(free_fit$coefficients), tolerance = 1e-6)
  # the plain solver, restarted from it in the same box, finds no lower SSE
  again <- vp_fit(dat, 2, "sigmoid", start = p, varpro = FALSE, lower = lower, upper = upper,
                  ctl = list(ftol = 1e-14, xtol = 1e-14))
  expect_gt(again$sse, fit$sse * (1 - 1e-8))
  # and the projection went on with the parameter at its bound: after the
  # first solve, every iteration was a projected one
  out <- capture.output(quietly(moe_fit(dat$x, dat$y, k = 2, gating = "sigmoid", expert = "linear",
                                         start = start, nstart = 0, lower = lower, upper = upper,
                                         control = moe_control(varpro = TRUE, trace = TRUE,
                                                               maxit = 1000))))
  iters <- grep("^iter", out, value = TRUE)
  expect_gt(length(iters), 2L)
  expect_true(all(grepl("(projected)|(experts' parameters solved)", iters)))
})

test_that("a box with one side only: the projection runs into it without crashing", {
  dat <- vp_data(n = 1500, seed = 9)
  start <- vp_start("sigmoid")
  start$a[] <- pmin(start$a, 1)
  # upper bound only (the lower is -Inf), and lower bound only
  for (side in c("upper", "lower")) {
    box <- if (side == "upper") list(upper = list(a = 1)) else list(lower = list(a = -0.5))
    st <- start
    if (side == "lower") st$a[] <- pmax(st$a, -0.5)
    fit <- do.call(vp_fit, c(list(dat, 2, "sigmoid", start = st), box))
    p <- coef(fit)
    # (the other side is open: a surplus expert may run off there, as the
    # box is what stops that)
    expect_true(if (side == "upper") all(p$a <= 1) else all(p$a >= -0.5), info = side)
    expect_true(is.finite(fit$sse))
    # the free experts' parameters solve the least squares with the held ones fixed
    Phi <- vp_design(fit, dat$x)
    psi <- as.vector(t(cbind(p$a, p$b)))
    held <- c(rbind(if (side == "upper") p$a[, 1] >= 1 else p$a[, 1] <= -0.5, FALSE))
    free_fit <- lm.fit(Phi[, !held, drop = FALSE], dat$y - drop(Phi[, held, drop = FALSE] %*% psi[held]))
    expect_equal(psi[!held], unname(free_fit$coefficients), tolerance = 1e-6, info = side)
  }
})

test_that("a parameter the projection holds at a bound ends exactly on it", {
  # theta_p + (bound - theta_p) can round past the bound; the fit must end in
  # the box, so that a restart from it is a valid start
  set.seed(2)
  x <- matrix(runif(600, -2, 2))
  y <- sin(2 * x[, 1]) + rnorm(600, sd = 0.2)
  fit_in_box <- function(...) quietly(moe_fit(x, y, k = 3, gating = "softmax", expert = "constant",
                                              lower = list(b = -0.3), upper = list(b = 0.5), ...))
  fit <- fit_in_box(nstart = 2, control = moe_control(varpro = TRUE))
  expect_true(all(fit$theta >= fit$lower & fit$theta <= fit$upper))
  expect_gt(length(fit$diagnostics$at_bound), 0L)
  again <- fit_in_box(start = coef(fit), nstart = 0)
  expect_gt(again$sse, fit$sse * (1 - 1e-6))
})

test_that("other experts ignore the setting", {
  dat <- vp_data(n = 1000, seed = 4)
  set.seed(8)
  a <- quietly(moe_fit(dat$x, dat$y, k = 2, expert = "relu", nstart = 2L,
                       control = moe_control(varpro = TRUE)))
  set.seed(8)
  b <- quietly(moe_fit(dat$x, dat$y, k = 2, expert = "relu", nstart = 2L))
  expect_identical(a$theta, b$theta)
  expect_identical(a$convergence$iterations, b$convergence$iterations)
})
