# Choosing the number of experts (R/select.R): the fits are those of moe(),
# the table their information criteria, and the choice the lowest one.

# The fit's own warnings (R/fit.R) where a test is not about them.
quiet <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

# Warnings of the fits themselves (non-convergence, singular information) are
# collected, so that a test can look for the one it is about.
collect_warnings <- function(expr) {
  warnings <- list()
  value <- withCallingHandlers(expr, warning = function(w) {
    warnings[[length(warnings) + 1L]] <<- w
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = warnings)
}

relu2 <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                    expert = "relu")
set.seed(1)
dat_sel <- moe_simulate(relu2, n = 300, sd = 0.1)
# On a compact parameter set, as the theory takes it: unbounded, a sigmoid
# gate can trade its level against the scale of a ReLU expert without end
# (beta0 -> -Inf, a -> Inf), and such a fit stops at maxit.
set.seed(2)
sel_run <- collect_warnings(moe_select(y ~ x1, data = dat_sel, k = 1:3, nstart = 5,
                                       lower = -10, upper = 10))
sel <- sel_run$value

test_that("BIC chooses the true number of experts, k = 2", {
  expect_s3_class(sel, "moe_selection")
  expect_identical(sel$best, 2L)
  expect_identical(sel$criterion, "BIC")
  expect_false(any(vapply(sel_run$warnings, inherits, logical(1), "sigmoe_selected_not_converged")))
})

test_that("the fits are moe() fits, one per k, with their own calls", {
  expect_identical(names(sel$fits), c("1", "2", "3"))
  expect_identical(vapply(sel$fits, function(f) f$k, integer(1)), c(`1` = 1L, `2` = 2L, `3` = 3L))
  fit2 <- sel$fits[["2"]]
  expect_identical(deparse1(fit2$call),
                   "moe(formula = y ~ x1, data = dat_sel, k = 2, nstart = 5, lower = -10, upper = 10)")
  # the same fit as moe() with the same random numbers
  set.seed(2)
  direct <- quiet(moe(y ~ x1, data = dat_sel, k = 1, nstart = 5, lower = -10, upper = 10))
  expect_equal(sel$fits[["1"]]$theta, direct$theta)
  # update() reruns the stored call where the user works
  set.seed(3)
  up <- quiet(update(fit2, nstart = 2))
  set.seed(3)
  expect_equal(up$theta, quiet(moe(y ~ x1, data = dat_sel, k = 2, nstart = 2, lower = -10,
                                   upper = 10))$theta)
})

test_that("the table holds each fit's criteria, and the best is the lowest", {
  tab <- sel$table
  expect_identical(names(tab), c("k", "npar", "sse", "logLik", "AIC", "BIC", "converged", "n_best"))
  expect_identical(tab$k, 1:3)
  expect_identical(tab$npar, c(4L, 8L, 12L))
  expect_identical(tab$sse, unname(vapply(sel$fits, deviance, numeric(1))))
  expect_identical(tab$logLik, unname(vapply(sel$fits, function(f) c(logLik(f)), numeric(1))))
  expect_equal(tab$AIC, unname(vapply(sel$fits, AIC, numeric(1))))
  expect_equal(tab$BIC, unname(vapply(sel$fits, BIC, numeric(1))))
  expect_identical(tab$converged, unname(vapply(sel$fits, function(f) f$convergence$converged,
                                               logical(1))))
  expect_identical(tab$n_best, unname(vapply(sel$fits, function(f) summary(f)$starts$n_best,
                                            integer(1))))
  expect_identical(sel$best, tab$k[which.min(tab$BIC)])
  # AIC chooses by its own column
  set.seed(2)
  aic <- suppressWarnings(moe_select(y ~ x1, data = dat_sel, k = 1:3, criterion = "AIC",
                                     nstart = 5, lower = -10, upper = 10))
  expect_identical(aic$criterion, "AIC")
  expect_identical(aic$best, aic$table$k[which.min(aic$table$AIC)])
  # k in any order comes back sorted
  set.seed(2)
  rev <- suppressWarnings(moe_select(y ~ x1, data = dat_sel, k = c(2, 1), nstart = 1))
  expect_identical(rev$table$k, 1:2)
})

test_that("print shows the table and the chosen k", {
  expect_output(print(sel), "Number of experts chosen by BIC: y ~ x1; relu experts, sigmoid gate")
  expect_output(print(sel), "<- lowest BIC")
  expect_output(print(sel), "Chosen: k = 2$")
  expect_output(res <- withVisible(print(sel)))
  expect_false(res$visible)
})

test_that("a chosen fit that did not converge gives a classed warning", {
  set.seed(4)
  run <- collect_warnings(moe_select(y ~ x1, data = dat_sel, k = 1:2, nstart = 1,
                                     control = moe_control(maxit = 1)))
  cls <- vapply(run$warnings, inherits, logical(1), "sigmoe_selected_not_converged")
  expect_identical(sum(cls), 1L)
  msg <- conditionMessage(run$warnings[[which(cls)]])
  expect_match(msg, sprintf("The fit chosen by BIC \\(k = %d\\) did not converge", run$value$best))
  expect_match(msg, "maxit")
  expect_false(any(run$value$table$converged))
  expect_output(print(run$value), "did not converge")
})

test_that("the fits' own warnings come through, named by their k", {
  set.seed(4)
  run <- collect_warnings(moe_select(y ~ x1, data = dat_sel, k = 1:2, nstart = 1,
                                     control = moe_control(maxit = 1)))
  fit_w <- Filter(function(w) inherits(w, "sigmoe_fit_warning"), run$warnings)
  expect_gte(length(fit_w), 2L)
  expect_true(all(grepl("^k = [12]: ", vapply(fit_w, conditionMessage, character(1)))))
  expect_true(any(vapply(fit_w, inherits, logical(1), "sigmoe_not_converged")))
})

test_that("moe_select passes weights to moe(), which evaluates them in `data`", {
  sel <- suppressWarnings(moe_select(y ~ x1, data = dat_sel, k = 1:2, nstart = 1, weights = x1^2 + 1))
  expect_equal(sel$fits[["2"]]$weights, dat_sel$x1^2 + 1)
  expect_identical(deparse(sel$fits[["2"]]$call$weights), "x1^2 + 1")
})

test_that("moe_select checks its arguments", {
  expect_error(moe_select(~ x1, dat_sel), "`formula` must be a two-sided formula")
  expect_error(moe_select(y ~ x1), "`data` must be given")
  expect_error(moe_select(y ~ x1, as.matrix(dat_sel)), "`data` must be a data frame, not a double matrix")
  expect_error(moe_select(y ~ x1, dat_sel, k = 2.5), "`k` must be distinct whole numbers .* not 2.5")
  expect_error(moe_select(y ~ x1, dat_sel, k = 0:2), "`k` must be distinct whole numbers")
  expect_error(moe_select(y ~ x1, dat_sel, k = c(1, 1)), "`k` must be distinct whole numbers")
  expect_error(moe_select(y ~ x1, dat_sel, k = "2"), "`k` must be distinct whole numbers")
  expect_error(moe_select(y ~ x1, dat_sel, k = c(1, NA)), "`k` must be distinct whole numbers")
  expect_error(moe_select(y ~ x1, dat_sel, k = 1:2, criterion = "CIC"),
               "`criterion` must be one of \"BIC\", \"AIC\", not \"CIC\"")
  expect_error(moe_select(y ~ x1, dat_sel, k = 1:2, criterion = 1), "`criterion` must be \"BIC\" or \"AIC\"")
  expect_error(moe_select(y ~ x1, dat_sel, 1:2, "BIC", 5), "must be named")
  expect_error(moe_select(y ~ x1, dat_sel, k = 1:2, nstrat = 5),
               "The fit with k = 1 failed: `nstrat` is not an argument")
  expect_error(quiet(moe_select(y ~ x1, dat_sel[1:10, ], k = c(1, 3))),
               "The fit with k = 3 failed: `k` = 3 is more than the data can identify")
})
