# vcov() and confint() of a fit (R/inference.R) against sigma^2 (J'J)^-1 from
# the analytic Jacobian, and the pseudo-inverse of a singular information.

list2env(fit_fixtures(), environment())

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
