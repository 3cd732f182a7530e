# Methods of the fit object (R/methods.R), each checked against an
# independent computation from the model functions and plain formulas.

list2env(fit_fixtures(), environment())

# The fit's own warnings (R/fit.R) are not what these tests are about: small
# fits with few starts give them.
quiet <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

test_that("coef gives the mixing measure, or theta on request", {
  expect_s3_class(coef(fit_x), "moe_params")
  expect_identical(coef(fit_x), fit_x$coefficients)
  expect_identical(coef(fit_x, type = "theta"), fit_x$theta)
  expect_equal(coef(fit_x, type = "theta"), sigmoe:::params_theta(coef(fit_x)))
  expect_error(coef(fit_x, type = "beta"), "`type` must be one of")
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

test_that("summary counts the default search's moves by kind, beside the user and data-driven starts", {
  set.seed(5)
  x <- runif(120, -1, 1)
  y <- ifelse(x > 0, 1 + 2 * x, -x) + rnorm(120, sd = 0.1)
  fit <- suppressWarnings(moe_fit(x, y, 2, expert = "linear"))
  src <- fit$starts$source
  s <- summary(fit)
  moves <- table(src[!src %in% c("user", "data")])
  expect_gt(sum(moves), 0)
  expect_identical(s$starts$user + s$starts$data + sum(s$starts$moves), nrow(fit$starts))
  expect_identical(as.vector(s$starts$moves), as.vector(moves))
  expect_identical(names(s$starts$moves), names(moves))
  said <- paste(sprintf("%d %s", as.vector(moves), names(moves)), collapse = ", ")
  expect_output(print(s), sprintf("Starts: %d \\(0 user, %d data-driven, %d from search moves \\(%s\\)\\)",
                                  nrow(fit$starts), sum(src == "data"), sum(moves), said))
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

test_that("na.exclude pads fitted values and residuals like lm", {
  d <- dat1[1:120, ]
  d$y[c(3, 50)] <- NA
  fit <- quiet(moe(y ~ x1, data = d, k = 2, start = relu_truth, nstart = 1, na.action = na.exclude))
  expect_identical(nobs(fit), 118L)
  expect_length(fitted(fit), 120L)
  expect_identical(unname(which(is.na(residuals(fit)))), c(3L, 50L))
  expect_equal(fitted(fit)[-c(3, 50)], moe_mean(coef(fit), d$x1[-c(3, 50)]),
               ignore_attr = TRUE)
})

test_that("simulate draws the fitted values plus Gaussian noise of sd sigma / sqrt(w), as for lm", {
  set.seed(5)
  x <- runif(150, -1, 1)
  y <- pmax(x, 0) + rnorm(150, sd = 0.1)
  w <- rep(c(1, 4, 0), 50)
  fit <- quiet(moe_fit(x, y, 1, weights = w, nstart = 2))
  s <- sigma(fit)
  # the draws are fitted + sd * z, z the generator's normals from the seed,
  # column after column; the session's stream is left as it was
  set.seed(99)
  before <- .Random.seed
  sim <- simulate(fit, nsim = 3, seed = 11)
  expect_identical(.Random.seed, before)
  set.seed(11)
  z <- matrix(rnorm(150 * 3), 150, 3)
  sd_row <- ifelse(w > 0, s / sqrt(w), NA)
  expect_equal(unname(as.matrix(sim)), fitted(fit) + sd_row * z, ignore_attr = TRUE)
  expect_identical(names(sim), c("sim_1", "sim_2", "sim_3"))
  expect_identical(attr(sim, "seed")[1], 11)
  expect_true(all(is.na(sim[w == 0, ])))
  expect_identical(simulate(fit, nsim = 3, seed = 11), sim)
  # without a seed: the state the draws started from, which replays them
  set.seed(3)
  a <- simulate(fit, nsim = 2)
  assign(".Random.seed", attr(a, "seed"), envir = globalenv())
  expect_identical(unname(as.matrix(a)), unname(as.matrix(simulate(fit, nsim = 2))))
  # many draws: the spread per row is sigma / sqrt(w), the mean the fit
  big <- as.matrix(simulate(fit, nsim = 4000, seed = 1))
  expect_equal(apply(big[w == 1, ], 1, sd), rep(s, 50), tolerance = 0.06)
  expect_equal(apply(big[w == 4, ], 1, sd), rep(s / 2, 50), tolerance = 0.06)
  expect_equal(rowMeans(big[w > 0, ]), fitted(fit)[w > 0], tolerance = 0.01, ignore_attr = TRUE)
  # rows that na.exclude dropped are NA, with the data's row names
  d <- dat1[1:120, ]
  d$y[c(3, 50)] <- NA
  fe <- quiet(moe(y ~ x1, data = d, k = 2, start = relu_truth, nstart = 1, na.action = na.exclude))
  se <- simulate(fe, seed = 2)
  expect_identical(dim(se), c(120L, 1L))
  expect_identical(which(is.na(se$sim_1)), c(3L, 50L))
  expect_identical(row.names(se), rownames(d))
  expect_error(simulate(fit, nsim = 0), "`nsim` must be a whole number")
  expect_error(simulate(fit, seed = "a"), "`seed` must be NULL or a single number")
  exact <- quiet(moe_fit(c(0.1, 0.5, 0.9, 1.3), c(1, 2, 0, 3), 1, expert = "linear", nstart = 1))
  expect_error(simulate(exact), "`object` has no residual degrees of freedom")
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
  up <- quiet(update(fit_f, k = 3, start = NULL, nstart = 1))
  expect_s3_class(up, "moe_fit")
  expect_identical(up$k, 3L)
  expect_identical(up$call$k, 3)
  up2 <- quiet(update(fit_x, nstart = 1))
  expect_equal(up2$theta, fit_x$theta, tolerance = 1e-6)
})

test_that("update changes k, the formula or the weights as lm and nls do", {
  d <- dat1
  set.seed(3)
  d$x2 <- rnorm(nrow(d))
  set.seed(1)
  fit <- quiet(moe(y ~ x1, data = d, k = 2, nstart = 2))
  # k
  set.seed(2)
  up_k <- quiet(update(fit, k = 3))
  set.seed(2)
  direct_k <- quiet(moe(y ~ x1, data = d, k = 3, nstart = 2))
  expect_identical(up_k$k, 3L)
  expect_equal(up_k$theta, direct_k$theta)
  expect_identical(deparse(up_k$call), "moe(formula = y ~ x1, data = d, k = 3, nstart = 2)")
  # the formula
  set.seed(2)
  up_f <- quiet(update(fit, . ~ . + x2))
  set.seed(2)
  direct_f <- quiet(moe(y ~ x1 + x2, data = d, k = 2, nstart = 2))
  expect_identical(formula(up_f), y ~ x1 + x2)
  expect_identical(up_f$xnames, c("x1", "x2"))
  expect_equal(up_f$theta, direct_f$theta)
  expect_equal(predict(up_f, d[1:5, ]), fitted(up_f)[1:5], ignore_attr = TRUE)
  # weights, from the caller's environment or a column of the data
  w <- rep(c(1, 3), length.out = nrow(d))
  set.seed(2)
  up_w <- quiet(update(fit, weights = w))
  set.seed(2)
  direct_w <- quiet(moe(y ~ x1, data = d, k = 2, nstart = 2, weights = w))
  expect_identical(up_w$weights, w)
  expect_equal(up_w$theta, direct_w$theta)
  expect_equal(deviance(up_w), sum(w * residuals(up_w)^2))
  d$w <- w
  set.seed(2)
  expect_equal(quiet(update(fit, data = d, weights = w))$theta, direct_w$theta)
  # a matrix fit takes new weights too, but has no formula to update
  set.seed(2)
  up_x <- quiet(update(fit_x, weights = w, start = NULL))
  expect_identical(up_x$weights, w)
  expect_error(update(fit_x, . ~ . + x2), "has no formula")
})

test_that("print shows the mean gate over the data, not the gate at x = 0", {
  # inputs far from 0 saturate the gates at x = 0, the weight of the mixing
  # measure, while each expert carries about half of the data
  far <- dat1
  far$x1 <- far$x1 + 10
  start <- moe_params(beta0 = c(-60, 60), beta1 = c(6, -6), a = c(1, -1), b = c(-9.8, 10.2),
                      expert = "relu")
  fit <- quiet(moe(y ~ x1, data = far, k = 2, start = start, nstart = 0))
  mean_gate <- colMeans(moe_gates(coef(fit), fit$x))
  expect_true(all(mean_gate > 0.2 & mean_gate < 0.8))
  expect_true(all(plogis(coef(fit)$beta0) < 1e-20 | plogis(coef(fit)$beta0) > 1 - 1e-12))
  out <- capture.output(print(fit, digits = 6))
  expect_true(any(grepl("^ +mean gate +beta0", out)))
  expect_true(any(grepl("^mean gate: the average of each expert's gate over the fitted data", out)))
  rows <- grep("^expert [12] ", out, value = TRUE)
  printed <- as.numeric(vapply(strsplit(rows, " +"), `[`, character(1), 3L))
  expect_equal(printed, unname(mean_gate), tolerance = 1e-5)
  # the mixing measure itself still prints its atom weights
  expect_output(print(coef(fit)), "weight")
  # softmax: the mean gates are shares of the data, summing to one
  expect_equal(sum(sigmoe:::fit_params_table(fit_2)$`mean gate`), 1)
})
