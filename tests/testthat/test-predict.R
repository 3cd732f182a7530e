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

test_that("duplicated input names are errors, never a silent choice of column", {
  set.seed(3)
  p <- moe_params(c(0, 0), matrix(c(2, -2, 1, 1), 2), matrix(c(1, -1, 0.5, 0.5), 2), c(.2, .2))
  d <- moe_simulate(p, 300, .05)
  X <- as.matrix(d[, c("x1", "x2")])
  fit <- moe_fit(X, d$y, 2, nstart = 2)
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
  fit <- moe_fit(d$x1, d$y, 2, nstart = 2)
  expect_error(predict(fit, c(0.1, 1e308)), "`newdata` is too large.*row 2")
  expect_error(predict(fit, c(0.1, 1e308), type = "experts"), "`newdata` is too large")
})
