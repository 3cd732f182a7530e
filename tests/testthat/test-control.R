# Solver settings (R/control.R) and the named control vector the C solver reads.

test_that("moe_control has the documented defaults and checks its settings", {
  ctl <- moe_control()
  expect_s3_class(ctl, "moe_control")
  expect_identical(ctl$maxit, 200L)
  expect_identical(c(ctl$gtol, ctl$lambda), c(1e-8, 1e-3))
  expect_identical(ctl$threads, 1L)
  expect_false(ctl$trace)
  expect_identical(ctl$start_rows, 5000L)
  expect_identical(ctl$jitter, 0.1)
  expect_error(moe_control(maxit = 0), "`maxit`")
  expect_error(moe_control(maxit = 2.5), "`maxit`")
  expect_error(moe_control(ftol = -1), "`ftol`")
  expect_error(moe_control(xtol = NA), "`xtol`")
  expect_error(moe_control(gtol = "a"), "`gtol`")
  expect_error(moe_control(lambda = 0), "`lambda`")
  expect_error(moe_control(threads = 0), "`threads`")
  expect_error(moe_control(trace = NA), "`trace`")
  expect_error(moe_control(start_rows = 1), "`start_rows`")
  expect_error(moe_control(jitter = -0.1), "`jitter`")
})

test_that("the control vector has the solver's settings, by name and in order", {
  ctl <- moe_control(maxit = 50, ftol = 1e-6, xtol = 1e-7, gtol = 1e-9, lambda = 0.01,
                     threads = 2, trace = TRUE)
  v <- sigmoe:::lsq_control_vector(ctl)
  expect_identical(v, c(maxit = 50, ftol = 1e-6, xtol = 1e-7, gtol = 1e-9, lambda = 0.01,
                        threads = 2, trace = 1, accel = 0, valley_m = 10, valley_tol = 0, varpro = 0,
                        trust = 0))
  expect_identical(names(v), sigmoe:::lsq_control_names)
  expect_identical(sigmoe:::lsq_control_vector(moe_control())[["trace"]], 0)
})

test_that("a control object that passed its checks is taken as it is, a changed copy is checked", {
  ctl <- moe_control(maxit = 7)
  expect_identical(sigmoe:::check_control(ctl), ctl)
  # the last object given out by either path (moe_control() or a list) is kept
  listed <- sigmoe:::check_control(list(maxit = 9))
  expect_identical(sigmoe:::check_control(listed), listed)
  expect_identical(sigmoe:::check_control(ctl), ctl)
  # right after the good object, a copy edited in one setting is checked again
  for (bad in list(list(maxit = -1L), list(ftol = -1), list(trace = NA), list(varpro = 2))) {
    edited <- ctl
    edited[names(bad)] <- bad
    expect_error(sigmoe:::check_control(edited), paste0("`control\\$", names(bad), "`"),
                 label = names(bad))
    expect_identical(sigmoe:::check_control(ctl), ctl)
  }
  # a setting that is not one value never becomes a control vector
  expect_error(sigmoe:::lsq_control_vector(replace(ctl, "maxit", list(1:2))), "internal")
})

test_that("the C solver refuses a control vector whose names differ", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  x <- matrix(seq(-1, 1, length.out = 20))
  y <- moe_mean(p, x)
  spec <- sigmoe:::params_spec(p)
  theta <- unname(sigmoe:::params_theta(p))
  v <- sigmoe:::lsq_control_vector(moe_control())
  expect_identical(sigmoe:::lsq_search(spec, theta, x, y, v)$code, 4L)
  expect_error(sigmoe:::lsq_search(spec, theta, x, y, unname(v)), "named")
  expect_error(sigmoe:::lsq_search(spec, theta, x, y, replace(v, "varpro", 2)), "`varpro`")
  expect_error(sigmoe:::lsq_search(spec, theta, x, y, v[c(2, 1, 3:12)]),
               "must be named \"maxit\", not \"ftol\"")
})

test_that("a hand-edited control object is checked again and never reaches C unchecked", {
  set.seed(1)
  p <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(.2, .2))
  d <- moe_simulate(p, 300, .05)
  cc <- moe_control()
  cc$maxit <- -1L
  expect_error(moe_fit(d$x1, d$y, 2, control = cc), "`control\\$maxit` must be a whole number between 1 and 1e\\+09")
  cc <- moe_control()
  cc$maxit <- NULL
  expect_error(moe_fit(d$x1, d$y, 2, control = cc), "`control\\$maxit` must be")
  cc <- moe_control()
  cc$threads <- 1e10
  expect_error(moe_fit(d$x1, d$y, 2, control = cc), "`control\\$threads` must be a whole number between 1 and 1024")
  cc <- moe_control()
  cc$lambda <- NaN
  expect_error(moe_fit(d$x1, d$y, 2, control = cc), "`control\\$lambda`")
  # and the C adapter refuses what R would never send
  spec <- sigmoe:::params_spec(p)
  th <- unname(sigmoe:::params_theta(p))
  x <- matrix(d$x1)
  ctl <- sigmoe:::lsq_control_vector(moe_control())
  for (bad in list(c(maxit = -1), c(maxit = 2^40), c(threads = 0), c(threads = 1e6),
                   c(ftol = -1), c(lambda = 0), c(trace = 2), c(maxit = NA))) {
    v <- ctl
    v[names(bad)] <- bad
    expect_error(sigmoe:::lsq_search(spec, th, x, d$y, v), names(bad), label = names(bad))
  }
})

test_that("counts outside the integer range are errors naming the argument", {
  set.seed(2)
  p <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(.2, .2))
  d <- moe_simulate(p, 200, .05)
  expect_error(moe_fit(d$x1, d$y, 2, control = list(maxit = .Machine$integer.max)),
               "`control\\$maxit` must be a whole number between 1 and 1e\\+09")
  expect_error(moe_control(threads = 1e10), "`threads` must be a whole number between 1 and 1024")
  expect_error(moe_control(threads = 512 * 4), "`threads` must be")
  expect_error(moe_fit(d$x1, d$y, 1e10), "`k` must be a whole number between 1 and 10000")
  expect_error(moe_fit(d$x1, d$y, 2, nstart = 1e10), "`nstart` must be a whole number between 0 and 1e\\+05")
  expect_error(blas_threads(1e10), "`n` must be a whole number between 1 and 1024")
  expect_error(moe_simulate(p, 1e10, 0.1), "`n` must be a whole number between 1 and 2147483647 \\(the integer range\\)")
  expect_error(moe_control(start_rows = 3e9), "`start_rows` must be")
  # a maxit far beyond what runs costs nothing until it is used
  f <- quietly(moe_fit(d$x1, d$y, 2, nstart = 1, control = list(maxit = 1e9)))
  expect_true(f$convergence$converged)
})
