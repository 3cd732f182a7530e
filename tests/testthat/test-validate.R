# The check_* helpers of R/validate.R: every message names the argument, says
# what was expected and shows what was given.

test_that("check_whole accepts whole numbers and returns an integer", {
  expect_identical(sigmoe:::check_whole(3, "k", min = 1), 3L)
  expect_identical(sigmoe:::check_whole(2L, "k", min = 1), 2L)
  # within rounding of a whole number
  expect_identical(sigmoe:::check_whole(3 + 1e-12, "k"), 3L)
})

test_that("check_whole names the argument, the bound and the value", {
  expect_error(sigmoe:::check_whole(2.5, "k", min = 1),
               "`k` must be a whole number >= 1, not 2.5.", fixed = TRUE)
  expect_error(sigmoe:::check_whole(0, "k", min = 1), "`k` must be a whole number >= 1, not 0.",
               fixed = TRUE)
  expect_error(sigmoe:::check_whole(5, "k", min = 1, max = 3),
               "`k` must be a whole number between 1 and 3, not 5.", fixed = TRUE)
  expect_error(sigmoe:::check_whole("a", "nstart", min = 0), "`nstart`.*not \"a\"")
  expect_error(sigmoe:::check_whole(NA, "k"), "`k` must be a whole number")
  expect_error(sigmoe:::check_whole(Inf, "k"), "`k` must be a whole number")
  expect_error(sigmoe:::check_whole(c(1, 2), "k"), "`k`.*length 2")
  expect_error(sigmoe:::check_whole(NULL, "k"), "`k`.*not NULL")
})

test_that("check_number checks range, openness and finiteness", {
  expect_identical(sigmoe:::check_number(0, "sd", min = 0), 0)
  expect_identical(sigmoe:::check_number(1L, "sd", min = 0), 1)
  expect_error(sigmoe:::check_number(-1, "sd", min = 0),
               "`sd` must be a single finite number >= 0, not -1.", fixed = TRUE)
  expect_error(sigmoe:::check_number(0, "lambda", min = 0, open_min = TRUE),
               "`lambda` must be a single finite number > 0, not 0.", fixed = TRUE)
  expect_error(sigmoe:::check_number(2, "p", min = 0, max = 1),
               "`p` must be a single finite number in [0, 1], not 2.", fixed = TRUE)
  expect_error(sigmoe:::check_number(Inf, "p"), "`p` must be a single finite number, not Inf.",
               fixed = TRUE)
  expect_error(sigmoe:::check_number(NA_real_, "sd", min = 0), "`sd`.*not NA")
  expect_error(sigmoe:::check_number(c(1, 2), "sd"), "`sd`.*a double vector of length 2")
  expect_error(sigmoe:::check_number("1", "sd"), "`sd`.*not \"1\"")
})

test_that("check_flag wants a single TRUE or FALSE", {
  expect_true(sigmoe:::check_flag(TRUE, "trace"))
  expect_false(sigmoe:::check_flag(FALSE, "trace"))
  expect_error(sigmoe:::check_flag(NA, "trace"), "`trace` must be TRUE or FALSE, not NA.",
               fixed = TRUE)
  expect_error(sigmoe:::check_flag(c(TRUE, FALSE), "trace"), "`trace`.*length 2")
  expect_error(sigmoe:::check_flag("yes", "trace"), "`trace`.*not \"yes\"")
  expect_error(sigmoe:::check_flag(1, "trace"), "`trace` must be TRUE or FALSE")
})

test_that("check_choice matches partially and lists the choices", {
  choices <- c("sigmoid", "softmax", "normalized_sigmoid")
  expect_identical(sigmoe:::check_choice("softmax", choices, "gating"), "softmax")
  expect_identical(sigmoe:::check_choice("norm", choices, "gating"), "normalized_sigmoid")
  expect_error(sigmoe:::check_choice("foo", choices, "gating"),
               "`gating` must be one of \"sigmoid\", \"softmax\", \"normalized_sigmoid\", not \"foo\".",
               fixed = TRUE)
  # "s" is a prefix of two choices: ambiguous, so an error rather than a guess
  expect_error(sigmoe:::check_choice("s", choices, "gating"), "`gating`.*not \"s\"")
  expect_error(sigmoe:::check_choice(1, choices, "gating"), "`gating`.*not 1")
  expect_error(sigmoe:::check_choice(NA_character_, choices, "gating"), "`gating` must be one of")
  expect_error(sigmoe:::check_choice(c("sigmoid", "softmax"), choices, "gating"),
               "`gating`.*length 2")
})

test_that("check_finite_numeric names the first non-finite element", {
  expect_invisible(sigmoe:::check_finite_numeric(c(1, 2), "y"))
  expect_error(sigmoe:::check_finite_numeric("a", "y"), "`y` must be numeric, not \"a\".",
               fixed = TRUE)
  expect_error(sigmoe:::check_finite_numeric(c(1, 2, -Inf), "y"),
               "`y` must contain only finite values; element 3 is -Inf.", fixed = TRUE)
  expect_error(sigmoe:::check_finite_numeric(c(1L, NA), "y"), "`y`.*element 2 is NA")
  expect_error(sigmoe:::check_finite_numeric(c(NaN, 1), "y"), "`y`.*element 1 is NaN")
})

test_that("check_x returns a double matrix; x_names gives x1..xd unless x has names", {
  x <- sigmoe:::check_x(1:3)
  expect_true(is.double(x))
  expect_identical(dim(x), c(3L, 1L))
  expect_identical(sigmoe:::x_names(x), "x1")
  x2 <- sigmoe:::check_x(matrix(c(1, 2, 3, 4, 5, 6), 3))
  expect_identical(unname(x2), matrix(c(1, 2, 3, 4, 5, 6), 3))
  expect_identical(sigmoe:::x_names(x2), c("x1", "x2"))
  x3 <- sigmoe:::check_x(data.frame(u = c(1, 2), v = c(3L, 4L)))
  expect_true(is.double(x3))
  expect_identical(sigmoe:::x_names(x3), c("u", "v"))
  expect_identical(unname(x3), matrix(c(1, 2, 3, 4), 2))
})

test_that("check_x names the argument for every bad input", {
  expect_error(sigmoe:::check_x("a", "x"), "`x` must be a numeric matrix or vector, not \"a\".",
               fixed = TRUE)
  expect_error(sigmoe:::check_x(list(1, 2), "x"), "`x`.*a list of length 2")
  expect_error(sigmoe:::check_x(matrix(numeric(0), 3, 0), "x"),
               "`x` must have at least one column.", fixed = TRUE)
  expect_error(sigmoe:::check_x(data.frame(a = 1:2, b = c("u", "v")), "x"),
               "`x` must have only numeric columns; column \"b\" is character.", fixed = TRUE)
  expect_error(sigmoe:::check_x(c(1, NaN, 3), "x"), "`x`.*element 2 is NaN")
  expect_error(sigmoe:::check_x(matrix(c(1, 2, Inf, 4), 2), "newdata"),
               "`newdata`.*element 3 is Inf")
  expect_error(sigmoe:::check_x(matrix("a", 2, 2), "x"), "`x` must be a numeric matrix")
})

test_that("abort_arg describes what was given", {
  expect_error(sigmoe:::abort_arg("foo", "a thing", NULL), "`foo` must be a thing, not NULL.",
               fixed = TRUE)
  expect_error(sigmoe:::abort_arg("foo", "a thing", sum), "not a function.", fixed = TRUE)
  expect_error(sigmoe:::abort_arg("foo", "a thing", list(1)), "not a list of length 1.",
               fixed = TRUE)
  expect_error(sigmoe:::abort_arg("foo", "a thing", matrix(0, 2, 3)),
               "not a double matrix 2 x 3.", fixed = TRUE)
  expect_error(sigmoe:::abort_arg("foo", "a thing", c(1.5, 2)),
               "not a double vector of length 2.", fixed = TRUE)
  expect_error(sigmoe:::abort_arg("foo", "a thing", data.frame(a = 1, b = 2)),
               "not a data frame with 2 columns.", fixed = TRUE)
  # the error call is not shown: the message alone names the argument
  err <- tryCatch(sigmoe:::abort_arg("foo", "a thing", 1), error = identity)
  expect_null(conditionCall(err))
})

test_that("check_x_dim wants the model's d columns", {
  expect_identical(sigmoe:::check_x_dim(c(1, 2), 1L), matrix(c(1, 2)))
  expect_error(sigmoe:::check_x_dim(matrix(0, 2, 3), 2L, "newdata"),
               "`newdata` must have d = 2 columns (the model's inputs), not 3.", fixed = TRUE)
  expect_error(sigmoe:::check_x_dim(matrix(0, 2, 2), 1L),
               "`x` must have d = 1 column (the model's inputs), not 2.", fixed = TRUE)
})

test_that("check_y takes a numeric vector or one-column matrix of n finite values", {
  expect_identical(sigmoe:::check_y(1:3, 3L), c(1, 2, 3))
  expect_identical(sigmoe:::check_y(matrix(c(0.5, 1)), 2L), c(0.5, 1))
  expect_error(sigmoe:::check_y(c(1, 2), 3L),
               "`y` must have one value per row of `x` (n = 3), not 2 values.", fixed = TRUE)
  expect_error(sigmoe:::check_y(matrix(0, 2, 2), 2L), "`y` must be a numeric vector")
  expect_error(sigmoe:::check_y(c("a", "b"), 2L), "`y` must be a numeric vector")
  expect_error(sigmoe:::check_y(c(1, NA), 2L), "`y`.*element 2 is NA")
})

test_that("check_degree wants a degree for the polynomial expert only", {
  expect_identical(sigmoe:::check_degree(3, "polynomial"), 3L)
  expect_null(sigmoe:::check_degree(3, "relu"))
  expect_null(sigmoe:::check_degree(NULL, "linear"))
  expect_error(sigmoe:::check_degree(NULL, "polynomial"),
               "`degree` must be given for the polynomial expert.", fixed = TRUE)
  expect_error(sigmoe:::check_degree(0, "polynomial"), "`degree` must be a whole number >= 1, not 0.",
               fixed = TRUE)
})

test_that("check_params and check_dots_empty name what is wrong", {
  p <- moe_params(beta0 = 0, beta1 = 1, a = 1, b = 0)
  expect_invisible(sigmoe:::check_params(p, "truth"))
  expect_error(sigmoe:::check_params(unclass(p), "truth"),
               "`truth` must be a `moe_params` object (see ?moe_params), not a list of length 10.",
               fixed = TRUE)
  expect_null(sigmoe:::check_dots_empty())
  expect_error(sigmoe:::check_dots_empty(sedd = 1),
               "Unknown argument `sedd`: check the spelling of the arguments.", fixed = TRUE)
  expect_error(sigmoe:::check_dots_empty(1), "1 value given beyond the arguments the function takes")
  expect_error(sigmoe:::check_dots_empty(1, 2), "2 values given beyond")
})

test_that("is_whole_vec is is_whole elementwise", {
  x <- c(1, 2.5, NA, Inf, -3, 4 + 1e-12)
  expect_identical(sigmoe:::is_whole_vec(x), c(TRUE, FALSE, FALSE, FALSE, TRUE, TRUE))
  expect_identical(sigmoe:::is_whole_vec(x), vapply(x, sigmoe:::is_whole, logical(1)))
})

test_that("check_params catches a mixing measure edited by hand", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2))
  expect_silent(sigmoe:::check_params(p, "params"))
  edit <- function(field, value) { q <- p; q[[field]] <- value; q }
  # the C model would otherwise read 3 columns that beta1 and a do not have
  expect_error(moe_mean(edit("d", 3L), cbind(1, 2, 3)),
               "`params` is not a consistent `moe_params` object: its `beta1`")
  expect_error(voronoi_loss(edit("k", 5L), p), "`fit` is not a consistent `moe_params` object")
  expect_error(moe_gates(edit("expert", "bogus"), 0), "`params`.*its `expert` is \"bogus\"")
  expect_error(moe_gates(edit("gating", 7), 0), "`params`.*its `gating` is 7")
  expect_error(moe_gates(edit("b", c(1, NA)), 0), "`params`.*its `b` has a value that is not finite")
  expect_error(moe_gates(edit("degree", 2L), 0), "`params`.*only the polynomial expert has a degree")
  soft <- moe_params(beta0 = c(1, 0), beta1 = c(3, 0), a = c(1, -1), b = c(0, 0), gating = "softmax")
  soft$beta0[2] <- 1
  expect_error(moe_gates(soft, 0), "softmax reference expert must be 0")
  expect_error(moe_fit(c(-1, 0, 1, 2), 1:4, 1, start = edit("a", "a"), nstart = 0),
               "`start` is not a consistent `moe_params` object")
  # the last mixing measure that passed is remembered; a copy edited after it
  # is checked again
  x <- seq(-1, 1, length.out = 40)
  expect_s3_class(suppressWarnings(moe_fit(x, moe_mean(p, x), 2, start = p, nstart = 0)), "moe_fit")
  expect_error(moe_fit(x, moe_mean(p, x), 2, start = edit("beta1", matrix(6, 2, 2)), nstart = 0),
               "`start` is not a consistent `moe_params` object: its `beta1`")
  expect_error(moe_mean(edit("d", 3L), cbind(x, x, x)), "its `beta1`")
  expect_silent(sigmoe:::check_params(p, "params"))
  # with nothing remembered (a new session), nothing passes unchecked
  rm("last", envir = sigmoe:::params_checked)
  expect_error(sigmoe:::check_params(NULL, "params"), "`params` must be a `moe_params` object")
  expect_error(moe_mean(NULL, 0), "`params` must be a `moe_params` object")
  expect_silent(sigmoe:::check_params(p, "params"))
})

test_that("check_fit catches a fit edited by hand before a method computes with it", {
  set.seed(3)
  p <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2))
  d <- moe_simulate(p, n = 100, sd = 0.05)
  fit <- quietly(moe_fit(d$x1, d$y, 2, start = p, nstart = 0))
  expect_silent(sigmoe:::check_fit(fit))
  f <- fit; f$theta <- f$theta[1:3]
  expect_error(confint(f), "`object` is not a consistent `moe_fit` object: its `theta`")
  f <- fit; f$jtj <- diag(2)
  expect_error(vcov(f), "`object`.*its `jtj`")
  f <- fit; f$coefficients$k <- 9L
  expect_error(predict(f, 0.5), "`object`.*its `coefficients` are inconsistent")
  f <- fit; f$theta[1] <- f$theta[1] + 1
  expect_error(summary(f), "its `theta` does not match its coefficients")
  expect_error(print(f), "`x` is not a consistent `moe_fit` object")
})

test_that("check_digits and check_colours name the argument", {
  expect_identical(sigmoe:::check_digits(3), 3L)
  expect_error(sigmoe:::check_digits("a"), "`digits` must be a whole number between 1 and 22")
  expect_identical(sigmoe:::check_digits(0, min = 0), 0L)
  expect_identical(sigmoe:::check_colours(c("red", "#00FF00", 3)), c("red", "#00FF00", "3"))
  expect_error(sigmoe:::check_colours("notacolour"), "`col` must be .*\"notacolour\" is not a colour")
  expect_error(sigmoe:::check_colours(list("red")), "`col` must be .*not a list of length 1")
})

test_that("a confidence level gets one message whatever is wrong with it", {
  for (v in list(1.5, 1, 0, -2, NA, "a", c(0.5, 0.9)))
    expect_error(sigmoe:::check_level(v), "`level` must be a number strictly between 0 and 1")
  expect_identical(sigmoe:::check_level(0.9), 0.9)
  fit <- quietly(moe_fit(c(-1, -0.5, 0, 0.5, 1, 0.2), c(0, 0, 0.1, 0.5, 1, 0.3), 1, expert = "linear", nstart = 1))
  expect_error(confint(fit, level = 95), "`level` must be a number strictly between 0 and 1")
})
