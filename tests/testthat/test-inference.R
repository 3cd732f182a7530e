# vcov() and confint() of a fit (R/inference.R) against sigma^2 (J'J)^-1 from
# the analytic Jacobian, and the pseudo-inverse of a singular information.

list2env(fit_fixtures(), environment())

# The fit's own warnings (R/fit.R) are not what these tests are about: small
# fits with few starts give them.
quiet <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

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

# ---- anova ---------------------------------------------------------------------

# A step in y at 0 carried by expert 1 and a ramp below -0.5 carried by
# expert 2: the 1-expert fit has an interior minimum (the step), so both fits
# are identified and nls() converges from them. Each fit is one local search
# from a fixed start, so the test does not hinge on the data-driven starts.
step_truth <- moe_params(beta0 = c(0, -4), beta1 = c(8, -8), a = c(0.5, -2), b = c(1, -1),
                         gating = "sigmoid", expert = "linear")
set.seed(1)
dat_step <- moe_simulate(step_truth, n = 400, sd = 0.1)
step1 <- quiet(moe(y ~ x1, data = dat_step, k = 1, expert = "linear", nstart = 0,
             start = moe_params(beta0 = 0, beta1 = 10, a = 0.5, b = 1, expert = "linear")))
step2 <- quiet(moe(y ~ x1, data = dat_step, k = 2, expert = "linear", nstart = 0, start = step_truth))

test_that("anova gives the F test of nested fits, computed by hand", {
  tab <- anova(step1, step2)
  expect_s3_class(tab, "anova")
  expect_identical(names(tab), c("Res.Df", "Res.Sum Sq", "Df", "Sum Sq", "F value", "Pr(>F)"))
  sse1 <- sum(residuals(step1)^2)
  sse2 <- sum(residuals(step2)^2)
  fval <- ((sse1 - sse2) / (8 - 4)) / (sse2 / (400 - 8))
  expect_equal(tab$Res.Df, c(396, 392))
  expect_equal(tab$`Res.Sum Sq`, c(sse1, sse2))
  expect_equal(tab$Df, c(NA, 4))
  expect_equal(tab$`Sum Sq`, c(NA, sse1 - sse2))
  expect_equal(tab$`F value`, c(NA, fval))
  expect_equal(tab$`Pr(>F)`, c(NA, pf(fval, 4, 392, lower.tail = FALSE)))
  # ordered by degrees of freedom whatever the order given
  expect_equal(anova(step2, step1), tab, ignore_attr = TRUE)
  expect_match(attr(anova(step2, step1), "heading")[2L], "Model 1 \\(step1\\).*\\n.*Model 2 \\(step2\\)")
  expect_output(print(tab), "Analysis of Variance Table")
})

test_that("anova agrees with anova() of the same models fitted by nls", {
  t1 <- unname(coef(step1, type = "theta"))
  t2 <- unname(coef(step2, type = "theta"))
  n1 <- nls(y ~ plogis(g0 + g1 * x1) * (a1 * x1 + b1), data = dat_step,
            start = list(g0 = t1[1], g1 = t1[2], a1 = t1[3], b1 = t1[4]))
  n2 <- nls(y ~ plogis(g0 + g1 * x1) * (a1 * x1 + b1) + plogis(h0 + h1 * x1) * (a2 * x1 + b2),
            data = dat_step, start = list(g0 = t2[1], g1 = t2[2], a1 = t2[3], b1 = t2[4],
                                          h0 = t2[5], h1 = t2[6], a2 = t2[7], b2 = t2[8]))
  # the same minima ...
  expect_equal(deviance(n1), deviance(step1), tolerance = 1e-7)
  expect_equal(deviance(n2), deviance(step2), tolerance = 1e-7)
  # ... and so the same table
  expect_equal(as.data.frame(unclass(anova(step1, step2))),
               as.data.frame(unclass(anova(n1, n2))), tolerance = 1e-5, ignore_attr = TRUE)
})

test_that("anova says that k against k + 1 experts is not a regular F test", {
  expect_match(paste(attr(anova(step1, step2), "heading"), collapse = "\n"),
               "not regular nested models")
  expect_output(print(anova(step1, step2)), "p-value do not hold")
  # the same k with one more input is a regular comparison: no note
  d <- dat_step
  set.seed(4)
  d$x2 <- rnorm(nrow(d))
  wide <- quiet(moe(y ~ x1 + x2, data = d, k = 2, expert = "linear", nstart = 2))
  tab <- anova(step2, wide)
  expect_false(any(grepl("not regular", attr(tab, "heading"))))
  expect_equal(tab$Df, c(NA, 4))
  # three fits: each compared with the one before
  tab3 <- anova(wide, step1, step2)
  expect_equal(tab3$Res.Df, c(396, 392, 388))
  expect_equal(tab3$`F value`[3L], ((deviance(step2) - deviance(wide)) / 4) /
                 (deviance(wide) / 388))
})

test_that("anova takes fits of the same data only, and says which argument is wrong", {
  expect_error(anova(step1), "two or more fits")
  expect_error(anova(step1, lm(y ~ x1, data = dat_step)),
               "`lm\\(y ~ x1, data = dat_step\\)` must be a `moe_fit` object")
  expect_error(anova(step1, step2, test = "F"), "Unknown argument `test`")
  fewer <- quiet(moe(y ~ x1, data = dat_step[1:300, ], k = 2, expert = "linear", nstart = 0,
               start = step_truth))
  expect_error(anova(step1, fewer), "`fewer` was fitted to n = 300 observations but `step1` to n = 400")
  other <- dat_step
  other$y <- other$y + 1
  shifted <- quiet(moe(y ~ x1, data = other, k = 2, expert = "linear", nstart = 0, start = step_truth))
  expect_error(anova(step1, shifted), "`shifted` has a different response from `step1`")
  weighted <- quiet(moe(y ~ x1, data = dat_step, k = 2, expert = "linear", nstart = 0,
                  start = step_truth, weights = rep(2, 400)))
  expect_error(anova(step1, weighted), "`weighted` was fitted with other weights than `step1`")
  # passed as values, the fits are named by their place
  expect_error(do.call(anova, list(step1, fewer)), "`\\.\\.1` was fitted to n = 300")
})

test_that("standard errors do not depend on where x lies: the rank is taken in centred coordinates", {
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2), expert = "relu")
  set.seed(21)
  d <- moe_simulate(truth, n = 1000, sd = 0.05)
  f0 <- quietly(moe_fit(d$x1, d$y, 2, start = truth, nstart = 0))
  shifted <- truth
  shifted$beta0 <- truth$beta0 - 1000 * truth$beta1[, 1]
  shifted$b <- truth$b - 1000 * truth$a[, 1]
  f1 <- quietly(moe_fit(d$x1 + 1000, d$y, 2, start = shifted, nstart = 0))
  expect_true(any(f1$scaling$center != 0))
  expect_equal(fitted(f1), fitted(f0), tolerance = 1e-4)
  # no singular information, and the slopes' errors and the prediction
  # errors those of the unshifted fit
  v1 <- expect_warning(vcov(f1), NA)
  v0 <- vcov(f0)
  slopes <- c("beta1[1,1]", "a[1,1]", "beta1[2,1]", "a[2,1]")
  expect_equal(sqrt(diag(v1))[slopes], sqrt(diag(v0))[slopes], tolerance = 0.02)
  p0 <- predict(f0, c(-0.5, 0, 0.5), se.fit = TRUE)$se.fit
  p1 <- predict(f1, c(-0.5, 0, 0.5) + 1000, se.fit = TRUE)$se.fit
  expect_equal(p1, p0, tolerance = 0.02)
  # by hand: the information of the centred inputs, inverted there (in the
  # data's coordinates it is singular to working precision), mapped back by
  # beta0 = beta0_c - beta1 cen, b = b_c - a cen
  cen <- f1$scaling$center[[1]]
  pc <- coef(f1)
  pc$beta0 <- pc$beta0 + pc$beta1[, 1] * cen
  pc$b <- pc$b + pc$a[, 1] * cen
  Jc <- moe_jacobian(pc, d$x1 + 1000 - cen)
  Cinv <- diag(8)
  Cinv[1, 2] <- Cinv[5, 6] <- Cinv[4, 3] <- Cinv[8, 7] <- -cen
  ref <- sigma(f1)^2 * Cinv %*% solve(crossprod(Jc)) %*% t(Cinv)
  expect_equal(unname(v1), ref, tolerance = 1e-6)
})

test_that("moe_mean() returns its value visibly, as moe_gates() does", {
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2), expert = "relu")
  expect_true(withVisible(moe_mean(truth, c(-0.5, 0.5)))$visible)
  expect_true(withVisible(moe_gates(truth, c(-0.5, 0.5)))$visible)
})

test_that("one expert under a normalized sigmoid gate has no gate parameters: lm's fit, sigma, AIC and vcov", {
  # the gate sigma(z) / sigma(z) is identically 1, so a linear expert is lm()
  # and the model has the 2 parameters of lm(), not 4
  ref <- lm(dist ~ speed, cars)
  fit <- quiet(moe(dist ~ speed, cars, k = 1, gating = "normalized_sigmoid", expert = "linear"))
  expect_identical(names(fit$theta), c("a[1,1]", "b[1]"))
  expect_equal(unname(fit$theta), unname(rev(coef(ref))), tolerance = 1e-6)
  expect_identical(fit$df.residual, df.residual(ref))
  expect_equal(sigma(fit), sigma(ref), tolerance = 1e-8)
  expect_equal(AIC(fit), AIC(ref), tolerance = 1e-8)
  expect_equal(BIC(fit), BIC(ref), tolerance = 1e-8)
  expect_equal(attr(logLik(fit), "df"), attr(logLik(ref), "df"))
  expect_no_warning(v <- vcov(fit))
  expect_equal(unname(v), unname(vcov(ref)[2:1, 2:1]), tolerance = 1e-6)
  # the softmax gate with one expert is the same model with the same count
  soft <- quiet(moe(dist ~ speed, cars, k = 1, gating = "softmax", expert = "linear"))
  expect_equal(AIC(fit), AIC(soft), tolerance = 1e-8)
  # the gate parameters are 0 in the fitted mixing measure, and a nonzero one
  # is refused by name, in a mixing measure and in a start
  p <- coef(fit)
  expect_identical(c(p$beta0, p$beta1), c(0, 0))
  expect_output(print(fit), "identically 1")
  expect_error(moe_params(beta0 = 0.3, beta1 = 0, a = 1, b = 0, gating = "normalized_sigmoid",
                          expert = "linear"), "normalized sigmoid gate is identically 1.*beta0\\[1\\]")
  bad <- unclass(p)
  bad$beta1[1, 1] <- 2
  class(bad) <- class(p)
  expect_error(moe_fit(cars$speed, cars$dist, k = 1, gating = "normalized_sigmoid", expert = "linear",
                       start = bad, nstart = 0), "start.*normalized sigmoid gate")
  # and in a model selection, k = 1 is charged its 2 parameters
  sel <- quiet(moe_select(dist ~ speed, cars, k = 1:2, gating = "normalized_sigmoid",
                          expert = "linear", nstart = 2))
  expect_identical(sel$table$npar[sel$table$k == 1], 2L)
})
