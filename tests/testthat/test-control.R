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
                        threads = 2, trace = 1))
  expect_identical(names(v), sigmoe:::lsq_control_names)
  expect_identical(sigmoe:::lsq_control_vector(moe_control())[["trace"]], 0)
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
  expect_error(sigmoe:::lsq_search(spec, theta, x, y, v[c(2, 1, 3:7)]),
               "must be named \"maxit\", not \"ftol\"")
})
