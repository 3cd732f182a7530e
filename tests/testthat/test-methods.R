# Methods of the fit object (R/methods.R), each checked against an
# independent computation from the model functions and plain formulas.

relu2 <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                    expert = "relu")
set.seed(11)
dat1 <- moe_simulate(relu2, n = 300, sd = 0.05)
fit_x <- moe_fit(dat1$x1, dat1$y, k = 2, start = relu2, nstart = 2)
fit_f <- moe(y ~ x1, data = dat1, k = 2, start = relu2, nstart = 2)

# One true expert fitted by three, from a start that splits the true atom
# into three equal ones: over-specified, and the fitted atoms stay (nearly)
# equal, so the information is singular whatever the solver's path.
relu1 <- moe_params(beta0 = 1, beta1 = 3, a = 1, b = 0.2, expert = "relu")
set.seed(2)
dat_over <- moe_simulate(relu1, n = 300, sd = 0.05)
split3 <- moe_params(beta0 = rep(-0.5, 3), beta1 = rep(3, 3), a = rep(1, 3), b = rep(0.2, 3),
                     expert = "relu")
fit_over <- moe_fit(dat_over$x1, dat_over$y, k = 3, start = split3, nstart = 0)

# d = 2, formula interface.
lin2 <- moe_params(beta0 = c(0.5, 0), beta1 = rbind(c(4, 1), c(0, 0)),
                   a = rbind(c(1, 0.5), c(-1, 0.5)), b = c(0.2, -0.1),
                   gating = "softmax", expert = "linear")
set.seed(5)
dat2 <- moe_simulate(lin2, n = 300, sd = 0.05)
fit_2 <- moe(y ~ x1 + x2, data = dat2, k = 2, gating = "softmax", expert = "linear",
             start = lin2, nstart = 2)

test_that("coef gives the mixing measure, or theta on request", {
  expect_s3_class(coef(fit_x), "moe_params")
  expect_identical(coef(fit_x), fit_x$coefficients)
  expect_identical(coef(fit_x, type = "theta"), fit_x$theta)
  expect_equal(coef(fit_x, type = "theta"), sigmoe:::params_theta(coef(fit_x)))
  expect_error(coef(fit_x, type = "beta"), "should be one of")
})

test_that("fitted, residuals, deviance, nobs, df and sigma agree with their definitions", {
  for (fit in list(fit_x, fit_f)) {
    f <- moe_mean(coef(fit), dat1$x1)
    expect_equal(fitted(fit), f, ignore_attr = TRUE)
    expect_equal(residuals(fit), dat1$y - f, ignore_attr = TRUE)
    expect_identical(names(fitted(fit)), names(residuals(fit)))
    expect_equal(resid(fit, type = "pearson"), (dat1$y - f) / sigma(fit), ignore_attr = TRUE)
    expect_equal(deviance(fit), sum((dat1$y - f)^2))
    expect_identical(nobs(fit), 300L)
    expect_identical(df.residual(fit), 300L - 8L)
    expect_equal(sigma(fit), sqrt(sum((dat1$y - f)^2) / (300 - 8)))
  }
  # the softmax reference expert has no free gating parameters: P = 3 + 3 + 3
  expect_identical(df.residual(fit_2), 300L - 9L)
  expect_identical(names(fitted(fit_f)), rownames(dat1))
})

test_that("logLik is the Gaussian log-likelihood at the MLE variance; AIC and BIC follow", {
  n <- 300
  sse <- sum(residuals(fit_x)^2)
  ll <- logLik(fit_x)
  expect_s3_class(ll, "logLik")
  expect_equal(c(ll), -n / 2 * (log(2 * pi * sse / n) + 1))
  # the same as the sum of normal log densities at sigma^2 = SSE / n
  expect_equal(c(ll), sum(dnorm(residuals(fit_x), sd = sqrt(sse / n), log = TRUE)))
  expect_identical(attr(ll, "df"), 9L)
  expect_identical(attr(ll, "nobs"), 300L)
  expect_equal(AIC(fit_x), -2 * c(ll) + 2 * 9)
  expect_equal(BIC(fit_x), -2 * c(ll) + log(n) * 9)
  expect_identical(attr(logLik(fit_over), "df"), 13L)
  tab <- AIC(fit_x, fit_over)
  expect_identical(tab$df, c(9, 13))
})

test_that("vcov of a well-specified fit is sigma^2 (J'J)^-1", {
  J <- moe_jacobian(coef(fit_x), dat1$x1)
  expect_no_warning(v <- vcov(fit_x))
  expect_equal(v, solve(crossprod(J)) * sigma(fit_x)^2, tolerance = 1e-6,
               ignore_attr = TRUE)
  expect_identical(dimnames(v), list(names(fit_x$theta), names(fit_x$theta)))
  expect_true(isSymmetric(v))
  J2 <- moe_jacobian(coef(fit_2), as.matrix(dat2[c("x1", "x2")]))
  expect_equal(vcov(fit_2), solve(crossprod(J2)) * sigma(fit_2)^2, tolerance = 1e-6,
               ignore_attr = TRUE)
})

test_that("an over-specified fit gives a singular-information warning and a pseudo-inverse", {
  expect_warning(v <- vcov(fit_over), class = "sigmoe_singular_information")
  expect_warning(vcov(fit_over), "singular.*over-specified.*not meaningful")
  expect_true(all(is.finite(v)))
  expect_identical(dim(v), c(12L, 12L))
  expect_true(isSymmetric(v))
  # a generalised inverse: A G A = A and G A G = G, with G = v / sigma^2
  A <- unname(fit_over$jtj)
  G <- unname(v) / sigma(fit_over)^2
  expect_lt(max(abs(A %*% G %*% A - A)), 1e-6 * max(abs(A)))
  expect_lt(max(abs(G %*% A %*% G - G)), 1e-6 * max(abs(G)))
  # summary notes it instead of warning, with NA for the unidentified parameters
  expect_no_warning(s <- summary(fit_over))
  expect_true(s$singular)
  # three copies of one atom identify at most one atom's 4 directions and
  # nothing about which copy carries what
  expect_lt(s$rank, 12L)
  expect_gte(s$rank, 4L)
  expect_true(anyNA(s$coefficients[, "Std. Error"]))
  expect_identical(is.na(s$coefficients[, "Std. Error"]), !s$estimable)
  expect_output(print(s), "singular")
  expect_warning(ci <- confint(fit_over), class = "sigmoe_singular_information")
  expect_identical(is.na(ci[, 1]), !s$estimable)
})

test_that("confint gives Wald intervals with the t quantile", {
  se <- sqrt(diag(vcov(fit_x)))
  q <- qt(0.975, df.residual(fit_x))
  ci <- confint(fit_x)
  expect_equal(ci[, 1], fit_x$theta - q * se)
  expect_equal(ci[, 2], fit_x$theta + q * se)
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  ci90 <- confint(fit_x, c("a[2,1]", "b[1]"), level = 0.9)
  expect_identical(rownames(ci90), c("a[2,1]", "b[1]"))
  q90 <- qt(0.95, df.residual(fit_x))
  expect_equal(ci90[, 2], fit_x$theta[c("a[2,1]", "b[1]")] + q90 * se[c("a[2,1]", "b[1]")])
  expect_identical(confint(fit_x, 3:4), ci[3:4, ])
  expect_error(confint(fit_x, "gamma"), "`parm` must name free parameters")
  expect_error(confint(fit_x, 9), "`parm` must be parameter names or indices between 1 and 8")
  expect_error(confint(fit_x, level = 1.5), "`level`")
})

test_that("summary has the coefficient table, residual SE and the starts", {
  s <- summary(fit_x)
  expect_s3_class(s, "summary.moe_fit")
  co <- s$coefficients
  expect_identical(colnames(co), c("Estimate", "Std. Error", "t value", "Pr(>|t|)"))
  expect_identical(rownames(co), names(fit_x$theta))
  se <- sqrt(diag(vcov(fit_x)))
  expect_equal(co[, "Std. Error"], se)
  expect_equal(co[, "t value"], fit_x$theta / se)
  expect_equal(co[, "Pr(>|t|)"], 2 * pt(-abs(fit_x$theta / se), 292))
  expect_false(s$singular)
  expect_equal(s$sigma, sigma(fit_x))
  expect_identical(s$df, 292L)
  st <- fit_x$starts
  expect_identical(s$starts$n, nrow(st))
  expect_identical(s$starts$user, 1L)
  expect_identical(s$starts$data, 2L)
  expect_equal(s$starts$best_sse, min(st$sse))
  expect_identical(s$starts$n_best, sum(abs(st$sse - min(st$sse)) <= 1e-6 * min(st$sse)))
  expect_output(print(s), "Residual standard error: .* on 292 degrees of freedom")
  expect_output(print(s), "Std. Error")
  expect_output(print(s), "Starts: 3 \\(1 user, 2 data-driven\\)")
  expect_output(print(s), "Convergence: code")
})

test_that("print shows the call, the model, SSE, sigma, convergence and the atoms", {
  expect_output(print(fit_f), "moe\\(formula = y ~ x1")
  expect_output(print(fit_x), "2 relu experts, sigmoid gate, d = 1 input, n = 300")
  expect_output(print(fit_x), "SSE: .* on 292 residual degrees of freedom, sigma")
  expect_output(print(fit_x), fit_x$convergence$message, fixed = TRUE)
  expect_output(print(fit_x), "expert 2")
  expect_output(print(fit_2), "softmax reference")
  expect_output(res <- withVisible(print(fit_x)))
  expect_false(res$visible)
  expect_identical(res$value, fit_x)
})

test_that("predict without newdata gives the fit, gates and experts at the training x", {
  expect_identical(predict(fit_x), fitted(fit_x))
  expect_equal(predict(fit_x, type = "gates"), moe_gates(coef(fit_x), dat1$x1))
  expect_equal(predict(fit_x, type = "experts"), moe_experts(coef(fit_x), dat1$x1))
})

test_that("predict on new inputs of a moe_fit(x, y) fit", {
  xn <- c(-0.9, -0.2, 0, 0.35, 1.2)
  f <- moe_mean(coef(fit_x), xn)
  expect_equal(predict(fit_x, xn), f)
  expect_equal(predict(fit_x, matrix(xn)), f)
  expect_equal(predict(fit_x, data.frame(x1 = xn, y = 1)), f)
  expect_equal(predict(fit_x, data.frame(z = xn)), f)
  expect_equal(predict(fit_x, xn, type = "gates"), moe_gates(coef(fit_x), xn))
  expect_equal(predict(fit_x, xn, type = "experts"), moe_experts(coef(fit_x), xn))
  # d = 2: by name (any order, extra columns ignored) or by position
  X <- as.matrix(dat2[c("x1", "x2")])
  fit_m <- moe_fit(X, dat2$y, k = 2, gating = "softmax", expert = "linear", start = lin2,
                   nstart = 1)
  new <- data.frame(x2 = c(0.5, -0.3), other = "a", x1 = c(0.1, 0.9))
  fm <- moe_mean(coef(fit_m), cbind(new$x1, new$x2))
  expect_equal(predict(fit_m, new), fm)
  expect_equal(predict(fit_m, cbind(new$x1, new$x2)), fm)
  expect_equal(predict(fit_m, cbind(x2 = new$x2, x1 = new$x1)), fm)
  expect_error(predict(fit_m, c(0.1, 0.5)), "`newdata` must be a matrix or data frame with d = 2")
  expect_error(predict(fit_m, cbind(1, 2, 3)), "`newdata` must have the model's 2 input columns")
  expect_error(predict(fit_m, data.frame(x1 = 1, z = 2, w = 3)), "lacking \"x2\"")
  expect_error(predict(fit_m, cbind(x1 = 0, x2 = NA)), "`newdata` must have finite inputs; row 1")
  expect_error(predict(fit_m, data.frame(a = 1, b = "u")), "`newdata` must have numeric input columns")
  expect_error(predict(fit_x, "a"), "`newdata` must be a numeric matrix or data frame")
  expect_error(predict(fit_x, c(0, Inf)), "`newdata` must have finite inputs; row 2")
  expect_error(predict(fit_x, xn, type = "mean"), "should be one of")
})

test_that("predict on a new data frame of a moe() fit, columns in any order", {
  new <- data.frame(x2 = c(0.5, -0.3, 0), x1 = c(0.1, 0.9, -1))
  f <- moe_mean(coef(fit_2), cbind(new$x1, new$x2))
  expect_equal(predict(fit_2, new), f)
  expect_equal(predict(fit_2, new[c("x1", "x2")]), f)
  expect_equal(predict(fit_2, as.list(new)), f)
  expect_equal(predict(fit_2, new, type = "gates"), moe_gates(coef(fit_2), cbind(new$x1, new$x2)))
  expect_equal(predict(fit_2, new, type = "experts"),
               moe_experts(coef(fit_2), cbind(new$x1, new$x2)))
  expect_error(predict(fit_2, data.frame(x1 = 1)), "`newdata` is missing the variable \"x2\"")
  expect_error(predict(fit_2, data.frame(x1 = 1, x2 = "a")), "`newdata` does not match")
  expect_error(predict(fit_2, data.frame(x1 = c(0, NA), x2 = 1)), "`newdata` must have finite inputs; row 2 of \"x1\"")
  expect_error(predict(fit_2, 1:3), "`newdata` must be a data frame")
})

test_that("predict handles transformed inputs and factors through the terms", {
  set.seed(8)
  d <- data.frame(u = runif(200, 0.5, 2), g = factor(sample(c("p", "q"), 200, TRUE)))
  d$y <- sin(log(d$u) * 3) + 0.5 * (d$g == "q") + rnorm(200, sd = 0.05)
  fit <- moe(y ~ log(u) + g, data = d, k = 2, expert = "linear", nstart = 2)
  new <- data.frame(g = c("q", "q"), u = c(1, 1.5))
  expect_equal(predict(fit, new), moe_mean(coef(fit), cbind(log(new$u), 1)))
  expect_error(predict(fit, data.frame(g = "r", u = 1)), "`newdata` does not match.*new level")
})

test_that("na.exclude pads fitted values and residuals like lm", {
  d <- dat1[1:120, ]
  d$y[c(3, 50)] <- NA
  fit <- moe(y ~ x1, data = d, k = 2, start = relu2, nstart = 1, na.action = na.exclude)
  expect_identical(nobs(fit), 118L)
  expect_length(fitted(fit), 120L)
  expect_identical(unname(which(is.na(residuals(fit)))), c(3L, 50L))
  expect_equal(fitted(fit)[-c(3, 50)], moe_mean(coef(fit), d$x1[-c(3, 50)]),
               ignore_attr = TRUE)
})

test_that("formula, model.frame and update work like lm/nls", {
  expect_identical(deparse(formula(fit_f)), "y ~ x1")
  expect_error(formula(fit_x), "has no formula")
  mf <- model.frame(fit_2)
  expect_identical(dim(mf), c(300L, 3L))
  expect_equal(mf$x1, dat2$x1)
  mfx <- model.frame(fit_x)
  expect_identical(names(mfx), c("y", "x1"))
  expect_equal(mfx$y, dat1$y)
  up <- update(fit_f, k = 3, start = NULL, nstart = 1)
  expect_s3_class(up, "moe_fit")
  expect_identical(up$k, 3L)
  expect_identical(up$call$k, 3)
  up2 <- update(fit_x, nstart = 1)
  expect_equal(up2$theta, fit_x$theta, tolerance = 1e-6)
})

test_that("plot draws without error and restores par", {
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  op <- par(no.readonly = TRUE)
  expect_invisible(plot(fit_x))
  expect_identical(par("mfrow"), op$mfrow)
  expect_no_error(plot(fit_over, which = 1:4, legend = FALSE, pch = 20))
  expect_no_error(plot(fit_f, which = 2, col = "red"))
  expect_no_error(plot(fit_2))
  expect_identical(par("mfrow"), op$mfrow)
  expect_error(plot(fit_2, which = 1), "need d = 1")
  expect_error(plot(fit_x, which = 5), "`which` must be distinct panel numbers")
})
