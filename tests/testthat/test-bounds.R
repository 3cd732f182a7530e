# The compact parameter set (R/bounds.R, the bounded solver of src/lsq.c):
# bounded fits against minpack.lm::nls.lm(lower, upper) and nls(algorithm =
# "port"), the first-order conditions at the solution, the bit-identical
# inactive box, inference at a bound, and the errors of bad boxes.

# A one-expert sigmoid-gated linear model, smooth and identified, whose
# unconstrained minimum has a = 2: a box with a <= 1.5 binds.
bounded_problem <- function(n = 400, seed = 11) {
  set.seed(seed)
  x <- runif(n, -1, 1)
  y <- plogis(0.5 + 2 * x) * (2 * x + 0.3) + rnorm(n, sd = 0.05)
  list(x = x, y = y, start = moe_params(beta0 = 0.3, beta1 = 1.5, a = 1.2, b = 0.2,
                                        gating = "sigmoid", expert = "linear"))
}
bounded_rhs <- function(p, x) plogis(p[1] + p[2] * x) * (p[3] * x + p[4])

test_that("a binding box gives the minimum of nls.lm and port, with the bound active", {
  skip_if_not_installed("minpack.lm")
  pb <- bounded_problem()
  up <- c(Inf, Inf, 1.5, Inf)
  fit <- quietly(moe_fit(pb$x, pb$y, k = 1, gating = "sigmoid", expert = "linear", start = pb$start,
                 nstart = 0, upper = list(a = 1.5),
                 control = moe_control(ftol = 1e-12, xtol = 1e-12, gtol = 1e-12)))
  expect_equal(unname(fit$theta[["a[1,1]"]]), 1.5)
  expect_identical(unname(fit$at_bound), c(FALSE, FALSE, TRUE, FALSE))
  th0 <- unname(sigmoe:::params_theta(pb$start))
  lm_fit <- minpack.lm::nls.lm(th0, upper = up, fn = function(p) pb$y - bounded_rhs(p, pb$x),
                               control = minpack.lm::nls.lm.control(maxiter = 500, ftol = 1e-14,
                                                                    ptol = 1e-14))
  port <- stats::nls(y ~ plogis(g0 + g1 * x) * (a * x + b), data = data.frame(x = pb$x, y = pb$y),
                     start = list(g0 = th0[1], g1 = th0[2], a = th0[3], b = th0[4]),
                     algorithm = "port", upper = up, control = list(maxiter = 500, tol = 1e-12))
  expect_equal(fit$sse, sum(lm_fit$fvec^2), tolerance = 1e-7)
  expect_equal(fit$sse, deviance(port), tolerance = 1e-7)
  expect_equal(unname(fit$theta), unname(lm_fit$par), tolerance = 1e-4)
  expect_equal(unname(fit$theta), unname(coef(port)), tolerance = 1e-4)
  # the unconstrained fit lies outside the box
  free <- quietly(moe_fit(pb$x, pb$y, k = 1, gating = "sigmoid", expert = "linear", start = pb$start,
                  nstart = 0))
  expect_gt(free$theta[["a[1,1]"]], 1.5)
  expect_lt(free$sse, fit$sse)
})

test_that("bounds on several blocks and both sides agree with port", {
  pb <- bounded_problem(seed = 12)
  lo <- c(-Inf, -Inf, -Inf, 0.35)
  up <- c(0.3, Inf, 1.7, Inf)
  th0 <- unname(sigmoe:::params_theta(pb$start))
  th0[4] <- 0.4
  fit2 <- quietly(moe_fit(pb$x, pb$y, k = 1, gating = "sigmoid", expert = "linear",
                  start = sigmoe:::theta_params(th0, pb$start), nstart = 0,
                  lower = list(b = 0.35), upper = list(beta0 = 0.3, a = 1.7),
                  control = moe_control(ftol = 1e-12, xtol = 1e-12, gtol = 1e-12)))
  port <- stats::nls(y ~ plogis(g0 + g1 * x) * (a * x + b), data = data.frame(x = pb$x, y = pb$y),
                     start = list(g0 = th0[1], g1 = th0[2], a = th0[3], b = th0[4]),
                     algorithm = "port", lower = lo, upper = up,
                     control = list(maxiter = 500, tol = 1e-12))
  expect_equal(fit2$sse, deviance(port), tolerance = 1e-7)
  expect_equal(unname(fit2$theta), unname(coef(port)), tolerance = 1e-4)
  expect_true(all(fit2$theta >= lo & fit2$theta <= up))
  expect_true(sum(fit2$at_bound) >= 2)
})

test_that("the bounded solution satisfies the bound-constrained first-order conditions", {
  pb <- bounded_problem(seed = 13)
  fit <- quietly(moe_fit(pb$x, pb$y, k = 1, gating = "sigmoid", expert = "linear", start = pb$start,
                 nstart = 0, upper = list(a = 1.5, beta1 = 1.8),
                 control = moe_control(ftol = 1e-14, xtol = 1e-14, gtol = 1e-10)))
  J <- moe_jacobian(coef(fit), pb$x)
  g <- drop(crossprod(J, residuals(fit)))   # descent direction of the SSE
  at <- fit$at_bound
  expect_true(any(at))
  # free parameters: gradient cosine at the tolerance; at an upper bound the
  # descent direction points up, out of the box
  cosine <- abs(g) / sqrt(colSums(J^2) * fit$sse)
  expect_true(all(cosine[!at] < 1e-6))
  expect_true(all(g[at] > 0))
})

test_that("a box that is never reached gives the unbounded fit bit for bit", {
  set.seed(31)
  for (cs in list(list(g = "sigmoid", e = "relu"), list(g = "softmax", e = "linear"),
                  list(g = "normalized_sigmoid", e = "gelu"))) {
    truth <- moe_params(beta0 = c(0.4, if (cs$g == "softmax") 0 else -0.3),
                        beta1 = c(3, if (cs$g == "softmax") 0 else -2), a = c(1, -1),
                        b = c(0.2, 0.1), gating = cs$g, expert = cs$e)
    d <- moe_simulate(truth, 500, 0.1)
    set.seed(5)
    f0 <- quietly(moe_fit(d$x1, d$y, 2, gating = cs$g, expert = cs$e, nstart = 3))
    set.seed(5)
    f1 <- quietly(moe_fit(d$x1, d$y, 2, gating = cs$g, expert = cs$e, nstart = 3,
                  lower = -1e6, upper = list(beta0 = 1e6, beta1 = 1e6, a = 1e6, b = 1e6)))
    expect_identical(f1$theta, f0$theta)
    expect_identical(f1$sse, f0$sse)
    expect_identical(f1$convergence, f0$convergence)
    expect_identical(f1$starts, f0$starts)
    expect_false(any(f1$at_bound))
  }
})

test_that("data-driven starts are moved into the box, and every fit stays in it", {
  set.seed(41)
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2))
  d <- moe_simulate(truth, 600, 0.05)
  fit <- quietly(moe_fit(d$x1, d$y, 3, nstart = 4, lower = -2, upper = 2))
  expect_true(all(fit$theta >= -2 & fit$theta <= 2))
  expect_identical(fit$at_bound, fit$theta <= -2 | fit$theta >= 2)
  expect_identical(unname(fit$lower), rep(-2, fit$npar))
  expect_identical(names(fit$upper), names(fit$theta))
})

test_that("the parameters at a bound are listed with their bounds, each as it is", {
  # bounds of both signs and widths: no padding of 3 to " 3" beside -3
  obj <- list(theta = c("beta0[1]" = 3, "a[1,1]" = 0.2, "b[1]" = -3, "b[2]" = 1e-4),
              lower = c(-3, -Inf, -3, 1e-4), upper = c(3, Inf, 3, 1),
              at_bound = c(TRUE, FALSE, TRUE, TRUE))
  expect_identical(sigmoe:::bound_list(obj),
                   "beta0[1] at its upper bound 3, b[1] at its lower bound -3, b[2] at its lower bound 1e-04")
})

test_that("parameters at a bound get NA standard errors, a flag and intervals inside the box", {
  pb <- bounded_problem(seed = 14)
  fit <- quietly(moe_fit(pb$x, pb$y, k = 1, gating = "sigmoid", expert = "linear", start = pb$start,
                 nstart = 0, upper = list(a = 1.5), lower = list(b = -5)))
  expect_true(fit$at_bound[["a[1,1]"]])
  expect_warning(v <- vcov(fit), class = "sigmoe_at_bound")
  expect_true(all(is.na(v["a[1,1]", ])) && all(is.na(v[, "a[1,1]"])))
  # the free block is the inverse of the free block of J'J
  free <- !fit$at_bound
  expect_equal(v[free, free], solve(fit$jtj[free, free]) * sigma(fit)^2, tolerance = 1e-8)
  s <- summary(fit)
  expect_true(is.na(s$coefficients["a[1,1]", "Std. Error"]))
  expect_output(print(s), "ended at a bound of the box \\(a\\[1,1\\] at its upper bound 1.5\\)")
  expect_output(print(fit), "At a bound of the box: a\\[1,1\\] at its upper bound 1.5")
  expect_warning(ci <- confint(fit), class = "sigmoe_at_bound")
  expect_true(all(is.na(ci["a[1,1]", ])))
  expect_true(all(ci[, 1] >= fit$lower | is.na(ci[, 1])))
  expect_true(all(ci[, 2] <= fit$upper | is.na(ci[, 2])))
  # no warning when the asked parameters are all free
  expect_silent(confint(fit, "beta1[1,1]"))
})

test_that("bad boxes are errors that name the argument", {
  set.seed(51)
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2))
  d <- moe_simulate(truth, 200, 0.05)
  expect_error(moe_fit(d$x1, d$y, 2, lower = list(beta1 = 5), upper = list(beta1 = 4)),
               "`lower` must be <= `upper`.*beta1\\[1,1\\]")
  expect_error(moe_fit(d$x1, d$y, 2, gating = "softmax", lower = list(beta0 = 1)),
               "must contain 0 for beta0\\[2\\].*softmax reference")
  expect_error(moe_fit(d$x1, d$y, 2, expert = "constant", upper = list(a = -1)),
               "constant expert's slopes")
  expect_error(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0, upper = 3),
               "`start` must lie in the box.*beta1\\[1,1\\] = 6")
  expect_error(moe_fit(d$x1, d$y, 2, upper = list(beta2 = 3)), "`upper` has an element `beta2`")
  expect_error(moe_fit(d$x1, d$y, 2, upper = list(beta1 = c(1, 2, 3))), "`upper\\$beta1` must be")
  expect_error(moe_fit(d$x1, d$y, 2, lower = "a"), "`lower` must be a number, or a named list")
  expect_error(moe_fit(d$x1, d$y, 2, lower = NA_real_), "`lower` must be")
  expect_error(moe_fit(d$x1, d$y, 2, lower = list(3)), "`lower` must be a named list")
  expect_error(moe_fit(d$x1, d$y, 2, lower = list(b = 1, b = 2)), "`lower` names `b` twice")
  expect_error(moe_fit(d$x1, d$y, 2, upper = list(a = matrix(1, 1, 2))), "`upper\\$a` must be")
  # C re-checks what R sends
  spec <- sigmoe:::params_spec(truth)
  th <- unname(sigmoe:::params_theta(truth))
  ctl <- sigmoe:::lsq_control_vector(moe_control())
  x <- matrix(d$x1)
  expect_error(sigmoe:::lsq_search(spec, th, x, d$y, ctl, rep(0, 3), NULL), "lower")
  expect_error(sigmoe:::lsq_search(spec, th, x, d$y, ctl, rep(10, 8), NULL), "outside the bounds")
  expect_error(sigmoe:::lsq_search(spec, th, x, d$y, ctl, c(NA, rep(0, 7)), NULL), "missing")
})

test_that("the formula interface passes the box on", {
  pb <- bounded_problem(seed = 15)
  dat <- data.frame(x = pb$x, y = pb$y)
  fit <- quietly(moe(y ~ x, data = dat, k = 1, gating = "sigmoid", expert = "linear", start = pb$start,
             nstart = 0, upper = list(a = 1.5)))
  expect_true(fit$at_bound[["a[1,1]"]])
})

test_that("the last box is kept; another box, or a bad one, is built and checked again", {
  tpl <- moe_params(numeric(2), c(0, 0), c(0, 0), numeric(2))
  b1 <- sigmoe:::box_theta(list(beta1 = -5), list(beta1 = 5), tpl)
  # theta is beta0, beta1, a, b expert by expert
  expect_identical(unname(b1$lower), c(-Inf, -5, -Inf, -Inf, -Inf, -5, -Inf, -Inf))
  expect_identical(unname(b1$upper), c(Inf, 5, Inf, Inf, Inf, 5, Inf, Inf))
  expect_identical(sigmoe:::box_theta(list(beta1 = -5), list(beta1 = 5), tpl), b1)
  b2 <- sigmoe:::box_theta(-3, 3, tpl)
  expect_identical(unname(b2$lower), rep(-3, 8))
  expect_identical(sigmoe:::box_theta(list(beta1 = -5), list(beta1 = 5), tpl), b1)
  # right after a good box, bad ones are still errors
  expect_error(sigmoe:::box_theta(list(beta1 = 6), list(beta1 = 5), tpl), "`lower` must be <= `upper`")
  expect_error(sigmoe:::box_theta(list(beta1 = function() 1), 5, tpl), "`lower\\$beta1`")
  expect_error(sigmoe:::box_theta(list(beta1 = -5), list(beta1 = 5, bogus = 1), tpl), "`upper` has an element `bogus`")
  # the same bounds for another model give that model's box
  tpl3 <- moe_params(numeric(3), c(0, 0, 0), c(0, 0, 0), numeric(3), expert = "linear")
  expect_identical(unname(sigmoe:::box_theta(list(beta1 = -5), list(beta1 = 5), tpl3)$upper),
                   rep(c(Inf, 5, Inf, Inf), 3))
})

test_that("with parameters at a bound, vcov()'s singular warning counts the free parameters, as summary() does", {
  # the message, from an information of 4 parameters, one at a bound
  info <- list(rank = 2L, at_bound = c(a = TRUE, b = FALSE, c = FALSE, d = FALSE),
               estimable = c(a = FALSE, b = TRUE, c = FALSE, d = FALSE))
  expect_warning(sigmoe:::warn_singular(info),
                 "numerical rank 2 of 3 parameters not at a bound\\).*directions \\(c, d\\)")
  info$at_bound[] <- FALSE
  expect_warning(sigmoe:::warn_singular(info), "rank 2 of 4 parameters\\),.*\\(a, c, d\\)")
  # a fit with both: the warning and summary() agree
  set.seed(1)
  f <- quietly(moe(mpg ~ wt + hp, data = mtcars, k = 2, expert = "linear", weights = cyl,
                   offset = 0.1 * disp, lower = -5, upper = 5))
  s <- summary(f)
  skip_if_not(s$singular && any(f$at_bound), "this fit is not singular with a parameter at a bound")
  w <- tryCatch(vcov(f), sigmoe_singular_information = function(w) conditionMessage(w))
  expect_match(w, sprintf("rank %d of %d parameters not at a bound", s$rank, sum(!f$at_bound)))
  expect_false(any(vapply(names(f$theta)[f$at_bound], function(nm) grepl(nm, sub(".*directions", "", w), fixed = TRUE),
                          logical(1))))
})
