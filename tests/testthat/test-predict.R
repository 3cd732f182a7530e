# Predictions of a fit (R/predict.R) at the training and at new inputs,
# against the model functions at the fitted mixing measure.

list2env(fit_fixtures(), environment())

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
  fit_m <- quietly(moe_fit(X, dat2$y, k = 2, gating = "softmax", expert = "linear", start = lin2,
                   nstart = 1))
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
  expect_error(predict(fit_x, xn, type = "mean"), "`type` must be one of")
})

test_that("predict on a new data frame of a moe() fit, columns in any order", {
  new <- data.frame(x2 = c(0.5, -0.3, 0), x1 = c(0.1, 0.9, -1))
  # named by the rows of newdata, as lm's predictions are
  f <- stats::setNames(moe_mean(coef(fit_2), cbind(new$x1, new$x2)), c("1", "2", "3"))
  expect_identical(names(predict(lm(y ~ x1 + x2, data = dat2), new)), names(f))
  expect_equal(predict(fit_2, new), f)
  named <- new
  rownames(named) <- c("a", "b", "c")
  expect_identical(names(predict(fit_2, named)), c("a", "b", "c"))
  expect_identical(rownames(predict(fit_2, named, interval = "confidence")), c("a", "b", "c"))
  expect_identical(names(predict(fit_2, named, se.fit = TRUE)$se.fit), c("a", "b", "c"))
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
  fit <- quietly(moe(y ~ log(u) + g, data = d, k = 2, expert = "linear", nstart = 2))
  new <- data.frame(g = c("q", "q"), u = c(1, 1.5))
  expect_equal(unname(predict(fit, new)), moe_mean(coef(fit), cbind(log(new$u), 1)))
  expect_error(predict(fit, data.frame(g = "r", u = 1)), "`newdata` does not match.*new level")
})

test_that("duplicated input names are errors, never a silent choice of column", {
  set.seed(3)
  p <- moe_params(c(0, 0), matrix(c(2, -2, 1, 1), 2), matrix(c(1, -1, 0.5, 0.5), 2), c(.2, .2))
  d <- moe_simulate(p, 300, .05)
  X <- as.matrix(d[, c("x1", "x2")])
  fit <- quietly(moe_fit(X, d$y, 2, nstart = 2))
  Xdup <- cbind(X, x1 = 0)
  expect_error(predict(fit, Xdup), "`newdata` has the input column \"x1\" more than once")
  expect_equal(predict(fit, X), fitted(fit), ignore_attr = TRUE)
  colnames(X) <- c("x", "x")
  expect_error(moe_fit(X, d$y, 2), "`x` has the column name \"x\" more than once")
})

test_that("inputs beyond double precision for the model are errors naming the input", {
  # a * x overflows to Inf at x = 1e308 when |a| = 2: the gated expert is
  # Inf (gate 1) or 0 * Inf = NaN (gate 0), so the model has no value there
  p <- moe_params(c(0, 0), c(6, -6), c(2, -2), c(.2, .2))
  ps <- moe_params(c(0.5, 0), c(3, 0), c(2, -2), c(.2, .2), gating = "softmax")
  for (q in list(p, ps)) {
    expect_error(moe_mean(q, c(0, 1e308)), "`x` is too large for the model's parameters: at row 2")
    expect_error(moe_experts(q, c(0, 0, -1e308)), "`x` is too large.*row 3")
    expect_error(moe_jacobian(q, c(0, 1e308)), "`x` is too large")
  }
  # softmax logits Inf - Inf are NaN
  expect_error(moe_gates(ps, c(1e308, 0)), "`x` is too large.*row 1")
  # where the model is finite the value is right, even if a gate's input
  # overflowed on the way: sigma(6e308) h(1e308 + 0.2) = 1e308
  p1 <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0, 0))
  expect_identical(moe_mean(p1, 1e308), 1e308)
  set.seed(4)
  d <- moe_simulate(p, 300, .05)
  fit <- quietly(moe_fit(d$x1, d$y, 2, nstart = 2))
  expect_error(predict(fit, c(0.1, 1e308)), "`newdata` is too large.*row 2")
  expect_error(predict(fit, c(0.1, 1e308), type = "experts"), "`newdata` is too large")
})

test_that("standard errors are the delta method with the analytic Jacobian", {
  set.seed(91)
  x <- runif(300, -1, 1)
  y <- plogis(0.5 + 2 * x) * (1.5 * x + 0.3) + rnorm(300, sd = 0.05)
  fit <- quietly(moe_fit(x, y, 1, expert = "linear", start = moe_params(0.3, 1.5, 1.2, 0.2, expert = "linear"),
                 nstart = 0))
  x0 <- c(-0.7, 0, 0.4)
  p <- predict(fit, x0, se.fit = TRUE, interval = "confidence", level = 0.9)
  # independent: numerical gradient of f(x0; theta) times vcov
  f_at <- function(th) moe_mean(sigmoe:::theta_params(th, coef(fit)), x0)
  th <- fit$theta
  G <- sapply(seq_along(th), function(j) {
    h <- 1e-6 * max(1, abs(th[j])); up <- th; dn <- th
    up[j] <- up[j] + h; dn[j] <- dn[j] - h
    (f_at(up) - f_at(dn)) / (2 * h)
  })
  se <- sqrt(rowSums((G %*% vcov(fit)) * G))
  expect_equal(p$se.fit, se, tolerance = 1e-5)
  q <- qt(0.95, df.residual(fit))
  expect_equal(unname(p$fit[, "lwr"]), unname(p$fit[, "fit"] - q * se), tolerance = 1e-6)
  expect_identical(p$df, df.residual(fit))
  pp <- predict(fit, x0, interval = "prediction")
  expect_equal(unname(pp[, "upr"] - pp[, "fit"]),
               qt(0.975, df.residual(fit)) * sqrt(se^2 + sigma(fit)^2), tolerance = 1e-5)
  expect_error(predict(fit, x0, type = "gates", interval = "confidence"), "`interval` is only for")
  expect_error(predict(fit, x0, interval = "wide"), "`interval` must be one of")
  expect_error(predict(fit, x0, level = 1.5), "`level`")
  expect_error(predict(fit, x0, se.fit = NA), "`se.fit`")
  expect_error(predict(fit, x0, interval = "prediction", pred.weights = -1), "`pred.weights`")
  expect_error(predict(fit, x0, foo = 1), "Unknown argument `foo`")
})

test_that("confidence and prediction intervals cover at their level in a simulation", {
  skip_on_cran()
  set.seed(92)
  truth <- moe_params(0.5, 2, 1.5, 0.3, expert = "linear")
  x0 <- c(-0.7, 0, 0.4)
  f0 <- moe_mean(truth, x0)
  reps <- 1000
  cover_c <- cover_p <- matrix(NA, reps, length(x0))
  for (r in seq_len(reps)) {
    x <- runif(200, -1, 1)
    y <- moe_mean(truth, x) + rnorm(200, sd = 0.1)
    fit <- quietly(moe_fit(x, y, 1, expert = "linear", start = truth, nstart = 0))
    ci <- predict(fit, x0, interval = "confidence")
    pi <- predict(fit, x0, interval = "prediction")
    ynew <- f0 + rnorm(length(x0), sd = 0.1)
    cover_c[r, ] <- ci[, "lwr"] <= f0 & f0 <= ci[, "upr"]
    cover_p[r, ] <- pi[, "lwr"] <= ynew & ynew <= pi[, "upr"]
  }
  # 3000 intervals each (three per replicate, correlated): a 95% level
  # gives coverage within [0.93, 0.97] with probability above 0.99
  expect_gt(mean(cover_c), 0.93); expect_lt(mean(cover_c), 0.97)
  expect_gt(mean(cover_p), 0.93); expect_lt(mean(cover_p), 0.97)
})

test_that("a pred.weights value that is not positive is named, with its position", {
  set.seed(12)
  x <- runif(100, -1, 1)
  fit <- quietly(moe_fit(x, 2 * x + rnorm(100, sd = 0.1), 1, expert = "linear", nstart = 1))
  expect_error(predict(fit, c(-0.5, 0.5), interval = "prediction", pred.weights = c(1, -1)),
               "`pred.weights` must be positive and finite, but element 2 is -1")
  expect_error(predict(fit, c(-0.5, 0.5), interval = "prediction", pred.weights = c(NA, 1)),
               "element 1 is NA")
})
