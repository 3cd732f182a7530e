# The regression function f_G, its Jacobian and simulation (R/model.R,
# src/model.c) against plain-R formulas and finite differences.

gatings <- c("sigmoid", "softmax", "normalized_sigmoid")
expert_cases <- list(
  list(expert = "linear"), list(expert = "relu"), list(expert = "gelu"),
  list(expert = "sigmoid"), list(expert = "tanh"), list(expert = "polynomial", degree = 2L),
  list(expert = "polynomial", degree = 3L), list(expert = "constant")
)
case_label <- function(gating, cs, d) {
  ex <- if (is.null(cs$degree)) cs$expert else sprintf("polynomial %d", cs$degree)
  sprintf("%s gate, %s experts, d = %d", gating, ex, d)
}

# Random parameters of a k-expert model; the softmax reference row is zero and
# the constant expert has no slopes.
random_raw <- function(k, d, gating, expert) {
  raw <- list(beta0 = rnorm(k), beta1 = matrix(rnorm(k * d, sd = 1.5), k, d),
              a = matrix(rnorm(k * d), k, d), b = rnorm(k, sd = 0.5))
  if (gating == "softmax") {
    raw$beta0[k] <- 0
    raw$beta1[k, ] <- 0
  }
  if (expert == "constant") raw$a <- NULL
  raw
}
as_params <- function(raw, gating, cs) {
  moe_params(raw$beta0, raw$beta1, raw$a, raw$b, gating = gating, expert = cs$expert,
             degree = cs$degree)
}

# Central finite differences of moe_mean in every free parameter.
fd_jacobian <- function(p, x, h = 1e-6) {
  theta <- sigmoe:::params_theta(p)
  J <- sapply(seq_along(theta), function(j) {
    step <- h * max(1, abs(theta[j]))
    up <- theta; up[j] <- up[j] + step
    dn <- theta; dn[j] <- dn[j] - step
    (moe_mean(sigmoe:::theta_params(up, p), x) - moe_mean(sigmoe:::theta_params(dn, p), x)) /
      (2 * step)
  })
  matrix(J, nrow(as.matrix(x)), length(theta))
}

# Rows of x at which no relu expert is within 1e-4 of its kink.
away_from_kinks <- function(raw, x) {
  if (is.null(raw$a)) return(x)
  t <- sapply(seq_along(raw$b), function(i) raw$b[i] + drop(x %*% raw$a[i, ]))
  x[apply(abs(matrix(t, nrow(x))) > 1e-3, 1, all), , drop = FALSE]
}

# d = 6 takes the dgemm path of src/model.c for the linear predictors; small d
# forms them row by row.
test_that("moe_mean matches the plain-R f_G for every gate x expert, d = 1, 3 and 6", {
  set.seed(301)
  n <- 60; k <- 3
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 3L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- matrix(runif(n * d, -1, 1), n, d)
    f <- moe_mean(p, x)
    expect_true(is.double(f) && is.null(dim(f)) && length(f) == n)
    expect_equal(f, ref_mean(raw, x, gating, cs$expert, cs$degree), tolerance = 1e-13,
                 label = paste("moe_mean:", case_label(gating, cs, d)))
  }
})

test_that("moe_mean is the row sum of gates times experts", {
  set.seed(302)
  for (gating in gatings) {
    raw <- random_raw(4, 2, gating, "gelu")
    p <- as_params(raw, gating, list(expert = "gelu"))
    x <- matrix(runif(40, -1, 1), 20)
    expect_equal(moe_mean(p, x), rowSums(moe_gates(p, x) * moe_experts(p, x)), tolerance = 1e-14)
    comp <- sigmoe:::model_components(p, x)
    expect_identical(comp$f, moe_mean(p, x))
  }
})

test_that("moe_mean agrees with plain R across several row blocks", {
  # enough rows that the C code evaluates x in several blocks of 2^17 / P rows
  set.seed(303)
  k <- 3; n <- 12000
  for (d in c(3L, 6L)) {
    raw <- random_raw(k, d, "normalized_sigmoid", "relu")
    p <- as_params(raw, "normalized_sigmoid", list(expert = "relu"))
    x <- matrix(runif(n * d, -1, 1), n, d)
    m <- 2^17 %/% sigmoe:::n_free_params(k, d, "normalized_sigmoid", "relu")
    expect_gt(n, 2 * m)
    expect_equal(moe_mean(p, x), ref_mean(raw, x, "normalized_sigmoid", "relu"), tolerance = 1e-13)
    J <- moe_jacobian(p, x)
    rows <- c(1, m, m + 1, 2 * m, 2 * m + 1, n)
    expect_equal(J[rows, ], moe_jacobian(p, x[rows, ])[, ], tolerance = 1e-15)
  }
})

test_that("the C model gives identical numbers with 1 and 2 threads", {
  set.seed(304)
  k <- 3; n <- 3000
  for (gating in gatings) for (d in c(2L, 6L)) {
    raw <- random_raw(k, d, gating, "gelu")
    p <- as_params(raw, gating, list(expert = "gelu"))
    x <- matrix(runif(n * d, -1, 1), n, d)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    expect_identical(.Call(sigmoe:::C_model_eval, spec, theta, x, TRUE, 1L),
                     .Call(sigmoe:::C_model_eval, spec, theta, x, TRUE, 2L))
    expect_identical(.Call(sigmoe:::C_model_jacobian, spec, theta, x, 1L),
                     .Call(sigmoe:::C_model_jacobian, spec, theta, x, 2L))
  }
})


test_that("the SSE of a pass does not depend on whether derivatives are computed", {
  # A Levenberg-Marquardt trial step is judged by the SSE-only pass and then
  # continued from the full pass at the same point: both must see the same f.
  set.seed(305)
  k <- 3; n <- 3000
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- matrix(runif(n * d, -1, 1), n, d)
    y <- moe_mean(p, x) + rnorm(n)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    sse <- .Call(sigmoe:::C_model_sse, spec, theta, x, y, 1L)
    full <- .Call(sigmoe:::C_model_crossprod, spec, theta, x, y, 1L)
    expect_identical(sse, full$sse, label = case_label(gating, cs, d))
    expect_equal(sse, sum((y - moe_mean(p, x))^2), tolerance = 1e-12,
                 label = case_label(gating, cs, d))
    if (gating == "sigmoid") {
      # the Jacobian's beta0 columns are g (1 - g) h, with h from the
      # derivative path; the same product from gates and experts evaluated
      # without derivatives must agree to the last bit
      J <- moe_jacobian(p, x)
      G <- moe_gates(p, x)
      H <- moe_experts(p, x)
      for (i in seq_len(k))
        expect_identical(unname(J[, sprintf("beta0[%d]", i)]), unname(G[, i] * (1 - G[, i]) * H[, i]),
                         label = sprintf("%s, beta0[%d] column", case_label(gating, cs, d), i))
    }
  }
})
test_that("moe_jacobian matches central finite differences for every gate x expert", {
  set.seed(305)
  n <- 30; k <- 3
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 3L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- away_from_kinks(raw, matrix(runif(3 * n * d, -1, 1), 3 * n, d))
    expect_gte(nrow(x), n)
    x <- x[seq_len(n), , drop = FALSE]
    if (cs$expert == "relu") {
      t <- sapply(1:k, function(i) raw$b[i] + drop(x %*% raw$a[i, ]))
      expect_false(any(abs(t) < 1e-4))
    }
    J <- moe_jacobian(p, x)
    P <- sigmoe:::n_free_params(k, d, gating, cs$expert)
    expect_identical(dim(J), c(as.integer(n), as.integer(P)))
    expect_identical(colnames(J), names(sigmoe:::params_theta(p)))
    expect_identical(attr(J, "coef"), colnames(J))
    Jfd <- fd_jacobian(p, x)
    err <- max(abs(J - Jfd) / pmax(1, abs(Jfd)))
    expect_lt(err, 1e-5, label = paste("Jacobian error:", case_label(gating, cs, d)))
  }
})

test_that("the Jacobian follows SPEC section 2 in closed form (sigmoid gate)", {
  # d f / d beta0_i = s_i (1 - s_i) h_i,  d f / d b_i = s_i h'(t_i)
  x <- c(-0.8, -0.1, 0.6)
  p <- moe_params(beta0 = c(0.3, -0.4), beta1 = c(1.5, -2), a = c(1, -0.5), b = c(0.2, 0.1),
                  expert = "tanh")
  s <- cbind(stats::plogis(0.3 + 1.5 * x), stats::plogis(-0.4 - 2 * x))
  t <- cbind(0.2 + x, 0.1 - 0.5 * x)
  J <- moe_jacobian(p, x)
  expect_equal(J[, "beta0[1]"], s[, 1] * (1 - s[, 1]) * tanh(t[, 1]))
  expect_equal(J[, "beta1[2,1]"], s[, 2] * (1 - s[, 2]) * tanh(t[, 2]) * x)
  expect_equal(J[, "b[2]"], s[, 2] * (1 - tanh(t[, 2])^2))
  expect_equal(J[, "a[1,1]"], s[, 1] * (1 - tanh(t[, 1])^2) * x)
})

test_that("the Jacobian follows SPEC section 2 in closed form (softmax gate)", {
  # d f / d beta0_l = pi_l (h_l - f)
  x <- c(-0.8, -0.1, 0.6)
  p <- moe_params(beta0 = c(0.3, -0.4, 0), beta1 = c(1.5, -2, 0), a = c(1, -0.5, 2),
                  b = c(0.2, 0.1, -0.3), gating = "softmax", expert = "linear")
  z <- cbind(0.3 + 1.5 * x, -0.4 - 2 * x, 0)
  pi <- exp(z) / rowSums(exp(z))
  h <- cbind(0.2 + x, 0.1 - 0.5 * x, -0.3 + 2 * x)
  f <- rowSums(pi * h)
  J <- moe_jacobian(p, x)
  expect_identical(colnames(J), c("beta0[1]", "beta1[1,1]", "a[1,1]", "b[1]", "beta0[2]",
                                  "beta1[2,1]", "a[2,1]", "b[2]", "a[3,1]", "b[3]"))
  expect_equal(J[, "beta0[2]"], pi[, 2] * (h[, 2] - f))
  expect_equal(J[, "beta1[1,1]"], pi[, 1] * (h[, 1] - f) * x)
  expect_equal(J[, "b[3]"], pi[, 3])
})

test_that("the constant expert's Jacobian has one column per expert for b and no a", {
  p <- moe_params(beta0 = c(0.5, 0), beta1 = matrix(c(1, 0, -1, 0), 2), b = c(1, -1),
                  gating = "softmax", expert = "constant")
  J <- moe_jacobian(p, matrix(c(0.1, 0.2, 0.3, 0.4), 2))
  expect_identical(colnames(J), c("beta0[1]", "beta1[1,1]", "beta1[1,2]", "b[1]", "b[2]"))
  expect_equal(J[, "b[1]"] + J[, "b[2]"], c(1, 1))
})

test_that("moe_mean and moe_jacobian handle zero rows and validate their arguments", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  expect_identical(moe_mean(p, numeric(0)), numeric(0))
  expect_identical(dim(moe_jacobian(p, numeric(0))), c(0L, 8L))
  expect_error(moe_mean(p, matrix(0, 3, 2)), "`x` must have d = 1 column")
  expect_error(moe_mean(p, c(1, NA)), "`x`.*element 2 is NA")
  expect_error(moe_mean(p, c(1, Inf)), "`x`")
  expect_error(moe_mean(p, "a"), "`x`")
  expect_error(moe_mean(p, data.frame(x = "a")), "`x` must have only numeric columns")
  expect_error(moe_mean(list(), 1), "`params` must be a `moe_params` object")
  expect_error(moe_jacobian(p, matrix(0, 3, 2)), "`x`")
  expect_error(moe_jacobian(unclass(p), 1), "`params`")
  expect_error(moe_experts(p, c(NaN)), "`x`")
})

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
