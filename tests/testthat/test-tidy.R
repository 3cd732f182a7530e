# The broom verbs (R/tidy.R) against the accessors, summary(), confint() and
# predict() they summarise.

list2env(fit_fixtures(), environment())

# The fit's own warnings (R/fit.R) are not what these tests are about: small
# fits with few starts give them.
quiet <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

test_that("tidy has one row per free parameter with summary's inference", {
  for (fit in list(fit_x, fit_f, fit_2)) {
    td <- generics::tidy(fit)
    co <- summary(fit)$coefficients
    expect_s3_class(td, "data.frame")
    expect_identical(names(td), c("term", "estimate", "std.error", "statistic", "p.value",
                                  "expert", "block", "input"))
    expect_identical(td$term, names(coef(fit, type = "theta")))
    expect_identical(td$estimate, unname(coef(fit, type = "theta")))
    expect_identical(td$std.error, unname(co[, "Std. Error"]))
    expect_identical(td$statistic, unname(co[, "t value"]))
    expect_identical(td$p.value, unname(co[, "Pr(>|t|)"]))
  }
  # the atom and the block of each parameter, as their names say
  td <- generics::tidy(fit_2)
  expect_identical(td$expert, as.integer(sub("^[a-z0-9]+\\[([0-9]+).*", "\\1", td$term)))
  expect_identical(td$block, sub("\\[.*", "", td$term))
  expect_identical(td$input[td$block %in% c("a", "beta1")],
                   c("x1", "x2")[as.integer(sub(".*,([0-9]+)\\]$", "\\1",
                                                td$term[td$block %in% c("a", "beta1")]))])
  expect_true(all(is.na(td$input[td$block %in% c("beta0", "b")])))
  # the softmax reference expert 2 has no gating parameters
  expect_identical(td$block[td$expert == 2L], c("a", "a", "b"))
})

test_that("tidy adds confint's intervals on request", {
  td <- generics::tidy(fit_f, conf.int = TRUE, conf.level = 0.9)
  ci <- confint(fit_f, level = 0.9)
  expect_identical(names(td)[6:7], c("conf.low", "conf.high"))
  expect_identical(td$conf.low, unname(ci[, 1L]))
  expect_identical(td$conf.high, unname(ci[, 2L]))
  expect_identical(generics::tidy(fit_f, conf.int = TRUE)$conf.low, unname(confint(fit_f)[, 1L]))
})

test_that("tidy gives NA where summary does: unidentified or at a bound", {
  expect_no_warning(td <- generics::tidy(fit_over))
  s <- summary(fit_over)
  expect_true(any(is.na(td$std.error)))
  expect_identical(is.na(td$std.error), unname(!s$estimable))
  expect_identical(is.na(td$p.value), unname(!s$estimable))
  expect_warning(tdc <- generics::tidy(fit_over, conf.int = TRUE),
                 class = "sigmoe_singular_information")
  expect_identical(is.na(tdc$conf.low), unname(!s$estimable))
  # a box that holds beta1[1,1] below its true value 6
  bounded <- quiet(moe_fit(dat1$x1, dat1$y, k = 2, start = moe_params(beta0 = c(0, 0), beta1 = c(3, -6),
                     a = c(1, -1), b = c(0.2, 0.2)), nstart = 0, upper = list(beta1 = 3)))
  expect_true(bounded$at_bound[["beta1[1,1]"]])
  td <- generics::tidy(bounded)
  expect_identical(is.na(td$std.error), unname(bounded$at_bound))
  expect_identical(td$estimate[td$term == "beta1[1,1]"], 3)
})

test_that("glance has one row with the accessors' values", {
  for (fit in list(fit_x, fit_2, fit_over)) {
    g <- generics::glance(fit)
    expect_s3_class(g, "data.frame")
    expect_identical(nrow(g), 1L)
    expect_identical(names(g), c("sigma", "logLik", "AIC", "BIC", "deviance", "df.residual",
                                 "nobs", "npar", "k", "gating", "expert", "converged",
                                 "iterations", "n_starts", "n_best"))
    expect_identical(g$sigma, sigma(fit))
    expect_identical(g$logLik, c(logLik(fit)))
    expect_equal(g$AIC, AIC(fit))
    expect_equal(g$BIC, BIC(fit))
    expect_identical(g$deviance, deviance(fit))
    expect_identical(g$df.residual, df.residual(fit))
    expect_identical(g$nobs, nobs(fit))
    expect_identical(g$npar, length(coef(fit, type = "theta")))
    expect_identical(g$k, fit$k)
    expect_identical(g$gating, fit$gating)
    expect_identical(g$expert, fit$expert)
    expect_identical(g$converged, fit$convergence$converged)
    expect_identical(g$iterations, fit$convergence$iterations)
    expect_identical(g$n_starts, nrow(fit$starts))
    expect_identical(g$n_best, summary(fit)$starts$n_best)
  }
})

test_that("glance and summary count the starts that competed, on a screening search too", {
  # with more rows than screen_rows the default search compares its starts on
  # a subsample: their SSEs are not those of the data and must not be mixed in
  set.seed(6)
  fit <- quiet(moe_fit(dat1$x1, dat1$y, k = 2, control = moe_control(screen_rows = 100)))
  expect_true(any(fit$starts$stage == "screen"))
  g <- generics::glance(fit)
  s <- summary(fit)
  expect_identical(g$n_starts, as.integer(fit$diagnostics$n_starts))
  expect_identical(g$n_best, as.integer(fit$diagnostics$n_best))
  expect_identical(s$starts$n_best, g$n_best)
  expect_identical(s$starts$n_compared, g$n_starts)
  expect_identical(s$starts$best_sse, deviance(fit))
  expect_lte(g$n_best, g$n_starts)
})

test_that("augment adds fitted values, residuals and gates to the data", {
  au <- generics::augment(fit_f)
  expect_identical(nrow(au), 300L)
  expect_identical(names(au), c("y", "x1", ".fitted", ".resid", ".gate1", ".gate2"))
  expect_equal(au$y, dat1$y)
  expect_identical(au$.fitted, unname(fitted(fit_f)))
  expect_identical(au$.resid, unname(residuals(fit_f)))
  expect_equal(as.matrix(au[c(".gate1", ".gate2")]), moe_gates(coef(fit_f), dat1$x1),
               ignore_attr = TRUE)
  # a matrix fit: y and its inputs
  ax <- generics::augment(fit_x)
  expect_identical(names(ax)[1:2], c("y", "x1"))
  expect_identical(ax$.fitted, unname(fitted(fit_x)))
  # d = 2 from a formula: the model frame
  a2 <- generics::augment(fit_2)
  expect_identical(names(a2), c("y", "x1", "x2", ".fitted", ".resid", ".gate1", ".gate2"))
  expect_equal(unname(rowSums(a2[c(".gate1", ".gate2")])), rep(1, 300))
  # the caller's data, with its other columns
  withid <- cbind(id = seq_len(300), dat1)
  ad <- generics::augment(fit_f, data = withid)
  expect_identical(ad$id, 1:300)
  expect_identical(ad$.fitted, unname(fitted(fit_f)))
})

test_that("augment gives predict()'s intervals and predictions at new data", {
  band <- predict(fit_f, interval = "prediction", level = 0.9)
  au <- generics::augment(fit_f, interval = "prediction", conf.level = 0.9)
  expect_identical(au$.lower, unname(band[, "lwr"]))
  expect_identical(au$.upper, unname(band[, "upr"]))
  new <- data.frame(x1 = c(-0.5, 0, 0.5))
  an <- generics::augment(fit_f, newdata = new, interval = "confidence")
  expect_identical(names(an), c("x1", ".fitted", ".gate1", ".gate2", ".lower", ".upper"))
  expect_identical(an$.fitted, unname(predict(fit_f, new)))
  expect_identical(an$.lower, unname(predict(fit_f, new, interval = "confidence")[, "lwr"]))
  expect_equal(as.matrix(an[c(".gate1", ".gate2")]), predict(fit_f, new, type = "gates"),
               ignore_attr = TRUE)
  # with the response in newdata, residuals too
  ar <- generics::augment(fit_f, newdata = dat1[1:4, ])
  expect_equal(ar$.resid, dat1$y[1:4] - ar$.fitted)
  # a matrix fit takes a vector
  av <- generics::augment(fit_x, newdata = c(-0.5, 0.5))
  expect_identical(names(av)[1:2], c("x1", ".fitted"))
  expect_identical(av$.fitted, unname(predict(fit_x, c(-0.5, 0.5))))
})

test_that("augment pads rows with missing values like fitted() with na.exclude", {
  d <- dat1[1:120, ]
  d$y[c(3, 50)] <- NA
  fit <- quiet(moe(y ~ x1, data = d, k = 2, start = relu_truth, nstart = 1, na.action = na.exclude))
  au <- generics::augment(fit)
  expect_identical(nrow(au), 118L)
  expect_identical(au$.fitted, unname(fit$fitted.values))
  ad <- generics::augment(fit, data = d, interval = "confidence")
  expect_identical(nrow(ad), 120L)
  expect_identical(which(is.na(ad$.fitted)), c(3L, 50L))
  expect_identical(which(is.na(ad$.gate1)), c(3L, 50L))
  expect_identical(which(is.na(ad$.lower)), c(3L, 50L))
  expect_identical(ad$.fitted, unname(fitted(fit)))
})

test_that("the verbs check their arguments", {
  expect_error(generics::tidy(fit_x, conf.int = NA), "`conf.int` must be TRUE or FALSE")
  expect_error(generics::tidy(fit_x, conf.level = 1), "`conf.level` must be a number strictly between 0 and 1")
  expect_error(generics::tidy(fit_x, conf.lvl = 0.9), "Unknown argument `conf.lvl`")
  expect_error(generics::glance(fit_x, extra = 1), "Unknown argument `extra`")
  expect_error(generics::augment(fit_x, interval = "band"), "`interval` must be one of")
  expect_error(generics::augment(fit_x, conf.level = "high"), "`conf.level` must be a number strictly between 0 and 1")
  expect_error(generics::augment(fit_f, data = dat1[1:10, ]),
               "`data` must have one row per observation of the fit \\(300\\), not 10")
  expect_error(generics::augment(fit_f, data = as.matrix(dat1)), "`data` must be NULL or a data frame")
  expect_error(generics::augment(fit_f, data = dat1, newdata = dat1), "not both")
  expect_error(generics::augment(fit_f, newdata = data.frame(z = 1)), "missing the variable")
})

test_that("broom's verbs reach the methods", {
  skip_if_not_installed("broom")
  expect_identical(broom::tidy(fit_x), generics::tidy(fit_x))
  expect_identical(broom::glance(fit_x), generics::glance(fit_x))
})
