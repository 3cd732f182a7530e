# The formula interface (R/formula.R): the same fit as moe_fit() on the model
# matrix, and checks of the formula and of missing values.

test_that("the formula interface gives the coefficients of moe_fit on the same matrix", {
  set.seed(19)
  d <- moe_simulate(relu_truth, n = 300, sd = 0.05)
  set.seed(20); f1 <- quietly(moe(y ~ x1, data = d, k = 2, nstart = 3))
  set.seed(20); f2 <- quietly(moe_fit(d$x1, d$y, k = 2, nstart = 3))
  expect_identical(coef(f1), coef(f2))
  expect_identical(f1$theta, f2$theta)
  expect_identical(f1$starts, f2$starts)

  truth2 <- moe_params(beta0 = c(0, 0), beta1 = rbind(c(3, 1), c(-3, 0)), a = rbind(c(1, 0), c(-1, 1)),
                       b = c(0.2, 0), expert = "relu")
  d2 <- moe_simulate(truth2, n = 300, sd = 0.05)
  d2$noise <- rnorm(300)
  set.seed(21); g1 <- quietly(moe(y ~ x1 + x2, data = d2, k = 2, expert = "linear", nstart = 2))
  set.seed(21); g2 <- quietly(moe_fit(as.matrix(d2[c("x1", "x2")]), d2$y, k = 2, expert = "linear", nstart = 2))
  expect_identical(coef(g1), coef(g2))
  expect_identical(colnames(coef(g1)$beta1), c("x1", "x2"))
  expect_identical(g1$formula, y ~ x1 + x2)
})

test_that("the formula interface checks its formula and missing values", {
  d <- data.frame(x1 = c(0.1, 0.5, NA, -0.3, 0.7, -0.9, 0.2, 0.4, -0.5, 0.8, -0.1, 0.6),
                  y = c(1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3))
  expect_error(moe(~ x1, data = d, k = 1), "`formula`")
  expect_error(moe("y ~ x1", data = d, k = 1), "`formula`")
  fit <- quietly(moe(y ~ x1, data = d, k = 1, na.action = stats::na.omit, nstart = 1))
  expect_identical(fit$nobs, 11L)
  # as for lm(), the default is the session's na.action: na.omit here
  set.seed(1)
  by_option <- quietly(moe(y ~ x1, data = d, k = 1, nstart = 1))
  set.seed(1)
  omitted <- quietly(moe(y ~ x1, data = d[-3, ], k = 1, nstart = 1))
  expect_identical(by_option$theta, omitted$theta)
  expect_identical(as.integer(by_option$na.action), 3L)
  expect_identical(names(fitted(by_option)), rownames(d)[-3])
  expect_identical(dim(model.frame(by_option)), c(11L, 2L))
  old <- options(na.action = "na.exclude")
  on.exit(options(old), add = TRUE)
  expect_length(fitted(quietly(moe(y ~ x1, data = d, k = 1, nstart = 1))), 12L)
  # unset or na.fail: an error that names the row
  for (opt in list(NULL, "na.fail", stats::na.fail)) {
    options(na.action = opt)
    expect_error(moe(y ~ x1, data = d, k = 1), "missing values.*row 3")
  }
})

test_that("moe() names the argument at fault instead of passing on model.frame()'s errors", {
  set.seed(19)
  d <- moe_simulate(relu_truth, n = 100, sd = 0.05)
  expect_error(moe(y ~ x1, data = d), "`k` must be given")
  expect_error(moe(y ~ zz, data = d, k = 1), "`formula` uses the variable \"zz\", which is not in `data`")
  expect_error(moe(y ~ x1, data = "d", k = 1), "`data` must be a data frame")
  expect_error(moe(y ~ x1, data = list(1), k = 1), "`data` must be a data frame")
  expect_error(moe(y ~ x1, data = d[0, ], k = 1), "`data` must have at least one row")
  expect_error(moe(y ~ x1, data = d, k = 1, weights = 1), "`weights` must be NULL or one number per row")
  expect_error(moe(y ~ x1, data = d, k = 1, weights = rep(NA_real_, 100)),
               "`na.action` removed every row of `data`: each has a missing value \\(in `weights`\\)")
  expect_error(moe(y ~ x1, data = d, k = 1, weights = rep(NA_real_, 100), na.action = "na.fail"),
               "`weights` must be numbers, not NA")
  expect_error(moe(y ~ x1, data = d, k = 1, offset = "a"), "`offset` must be NULL or one number per row")
  expect_error(moe(y ~ x1, data = d, k = 1, weights = zz), "`weights` could not be evaluated in `data`")
  expect_error(moe(y ~ x1, data = d, k = 1, subset = x1 > 5), "`subset` must select at least one row")
  expect_error(moe(y ~ x1, data = d, k = 1, subset = "a"), "`subset` must be a logical vector")
  expect_error(moe(y ~ x1, data = d, k = 1, na.action = "a"), "`na.action` must be a function")
  # what moe() evaluates in `data` it still finds there, and a name of an
  # na.action function still works
  fit <- quietly(moe(y ~ x1, data = d, k = 1, nstart = 1, weights = x1^2, subset = 1:80,
                     na.action = "na.omit"))
  expect_identical(fit$nobs, 80L)
  expect_equal(fit$weights, d$x1[1:80]^2)
})

test_that("weights from tapply() (a one-dimensional array) are accepted", {
  set.seed(12)
  d <- data.frame(x = runif(60, -1, 1))
  d$y <- d$x + rnorm(60, sd = 0.1)
  win <- cut(d$x, c(-1, 0, 1), include.lowest = TRUE)
  w <- (1 / tapply(d$y, win, var))[win]
  expect_identical(length(dim(w)), 1L)
  fit <- quietly(moe(y ~ x, data = d, k = 1, expert = "linear", weights = w, nstart = 1))
  expect_equal(fit$weights, as.vector(w))
})

test_that("a factor or character response is refused as such, not fitted by its codes", {
  d <- data.frame(x = seq(-1, 1, length.out = 40), g = factor(rep(c("a", "b"), 20)))
  d$s <- as.character(d$g)
  expect_error(moe(g ~ x, d, k = 1, expert = "linear"),
               "response of `formula` must be numeric, not a factor of length 40 with 2 levels")
  expect_no_warning(try(moe(g ~ x, d, k = 1, expert = "linear"), silent = TRUE))
  expect_error(moe(s ~ x, d, k = 1, expert = "linear"), "must be numeric, not a character vector")
  expect_error(moe_fit(d$x, d$g, k = 1, expert = "linear"),
               "`y` must be a numeric vector, not a factor of length 40 with 2 levels")
})

test_that("a logical response is 0 and 1 in both interfaces, as in lm(); a Date is named as such", {
  set.seed(13)
  d <- data.frame(x = runif(80, -1, 1))
  d$lg <- d$x + rnorm(80, sd = 0.3) > 0
  # one softmax expert: the model of lm()
  f1 <- moe(lg ~ x, d, k = 1, gating = "softmax", expert = "linear", nstart = 1)
  f2 <- moe_fit(d$x, d$lg, k = 1, gating = "softmax", expert = "linear", nstart = 1)
  ref <- lm(lg ~ x, d)
  expect_equal(unname(f1$theta), unname(rev(coef(ref))), tolerance = 1e-6)
  expect_equal(unname(f2$theta), unname(rev(coef(ref))), tolerance = 1e-6)
  expect_error(moe_fit(1:30, as.Date("2020-01-01") + 1:30, k = 1, expert = "linear"),
               "`y` must be a numeric vector, not a \"Date\" object of length 30")
})
