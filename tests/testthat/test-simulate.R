# Simulation from a mixing measure (R/simulate.R).

test_that("moe_simulate draws reproducible data with the documented columns", {
  set.seed(306)
  raw <- random_raw(3, 2, "softmax", "gelu")
  p <- as_params(raw, "softmax", list(expert = "gelu"))
  set.seed(1); d1 <- moe_simulate(p, n = 200, sd = 0.1)
  set.seed(1); d2 <- moe_simulate(p, n = 200, sd = 0.1)
  set.seed(2); d3 <- moe_simulate(p, n = 200, sd = 0.1)
  expect_identical(d1, d2)
  expect_false(identical(d1$y, d3$y))
  expect_s3_class(d1, "data.frame")
  expect_identical(names(d1), c("x1", "x2", "y"))
  expect_identical(nrow(d1), 200L)
  x <- as.matrix(d1[c("x1", "x2")])
  expect_true(all(x >= -1 & x <= 1))
  # x is spread over the whole square, not a corner of it
  expect_true(all(apply(x, 2, min) < -0.8) && all(apply(x, 2, max) > 0.8))
})

test_that("moe_simulate with sd = 0 gives y == f_G(x) exactly", {
  set.seed(307)
  for (gating in gatings) {
    raw <- random_raw(2, 3, gating, "relu")
    p <- as_params(raw, gating, list(expert = "relu"))
    d <- moe_simulate(p, n = 50, sd = 0)
    x <- as.matrix(d[c("x1", "x2", "x3")])
    expect_identical(d$y, moe_mean(p, x))
    expect_equal(d$y, ref_mean(raw, x, gating, "relu"), tolerance = 1e-13)
  }
})

test_that("moe_simulate adds N(0, sd^2) noise to f_G", {
  set.seed(308)
  p <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1), b = c(0.5, 0))
  d <- moe_simulate(p, n = 20000, sd = 0.3)
  e <- d$y - moe_mean(p, d$x1)
  # mean 0 and sd 0.3 within about 5 standard errors
  expect_lt(abs(mean(e)), 5 * 0.3 / sqrt(20000))
  expect_lt(abs(sd(e) - 0.3), 5 * 0.3 / sqrt(2 * 20000))
  expect_gt(stats::ks.test(e / 0.3, "pnorm")$p.value, 1e-4)
})

test_that("moe_simulate takes x when given, and then ignores n", {
  p <- moe_params(beta0 = c(0, 0), beta1 = matrix(1, 2, 2), a = matrix(1, 2, 2), b = c(0, 0))
  x <- matrix(c(0.1, 2, -3, 0.4, 0.5, 0.6), 3, dimnames = list(NULL, c("u", "v")))
  d <- moe_simulate(p, sd = 0, x = x)
  expect_identical(names(d), c("x1", "x2", "y"))
  expect_identical(unname(as.matrix(d[1:2])), unname(x))
  expect_identical(d$y, moe_mean(p, x))
  expect_identical(nrow(moe_simulate(p, n = 99, sd = 0, x = x)), 3L)
})

test_that("moe_simulate validates its arguments", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  expect_error(moe_simulate(p, n = 10, sd = -1), "`sd`")
  expect_error(moe_simulate(p, n = 10, sd = NA), "`sd`")
  expect_error(moe_simulate(p, n = 10, sd = c(1, 2)), "`sd`")
  expect_error(moe_simulate(p, n = 10, sd = Inf), "`sd`")
  expect_error(moe_simulate(p, n = 2.5, sd = 1), "`n` must be a whole number >= 1, not 2.5.",
               fixed = TRUE)
  expect_error(moe_simulate(p, n = 0, sd = 1), "`n`")
  expect_error(moe_simulate(p, sd = 1, x = matrix(0, 2, 2)), "`x`")
  expect_error(moe_simulate("p", n = 10, sd = 1), "`params`")
})
