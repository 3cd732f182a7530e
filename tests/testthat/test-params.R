# The mixing-measure object: constructor, validation, print and the free
# parameter vector theta (R/params.R).

# A valid two-expert model, d = 1, with one argument replaced at a time.
make <- function(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1), b = c(0.5, 0), ...) {
  moe_params(beta0 = beta0, beta1 = beta1, a = a, b = b, ...)
}

test_that("moe_params stores what it is given, with the documented shapes", {
  beta1 <- matrix(c(1, 2, 3, 4, 5, 6), 3, 2)
  a <- matrix(c(-1, 0, 1, 2, 0.5, 0.25), 3, 2)
  p <- moe_params(beta0 = c(0.1, 0.2, 0.3), beta1 = beta1, a = a, b = c(1, 2, 3),
                  gating = "normalized_sigmoid", expert = "gelu")
  expect_s3_class(p, "moe_params")
  expect_identical(p$k, 3L)
  expect_identical(p$d, 2L)
  expect_identical(p$beta0, c(0.1, 0.2, 0.3))
  expect_identical(unname(p$beta1), beta1)
  expect_identical(unname(p$a), a)
  expect_identical(p$b, c(1, 2, 3))
  expect_identical(colnames(p$beta1), c("x1", "x2"))
  expect_identical(colnames(p$a), c("x1", "x2"))
  expect_identical(p$gating, "normalized_sigmoid")
  expect_identical(p$expert, "gelu")
  expect_null(p$degree)
})

test_that("a vector of slopes is a one-column matrix when d = 1", {
  p <- make()
  expect_identical(p$d, 1L)
  expect_identical(dim(p$beta1), c(2L, 1L))
  expect_identical(dim(p$a), c(2L, 1L))
  expect_identical(colnames(p$beta1), "x1")
})

test_that("column names of beta1 (or of a) are kept for both matrices", {
  b1 <- matrix(1:4, 2, dimnames = list(NULL, c("u", "v")))
  p <- moe_params(beta0 = c(0, 0), beta1 = b1, a = matrix(0.5, 2, 2), b = c(0, 0))
  expect_identical(colnames(p$a), c("u", "v"))
  p2 <- moe_params(beta0 = c(0, 0), beta1 = matrix(1, 2, 2),
                   a = matrix(0.5, 2, 2, dimnames = list(NULL, c("s", "t"))), b = c(0, 0))
  expect_identical(colnames(p2$beta1), c("s", "t"))
})

test_that("the constant expert takes a = NULL and stores zero slopes", {
  p <- moe_params(beta0 = c(0, 1), beta1 = matrix(1, 2, 3), b = c(2, -2), expert = "constant")
  expect_identical(unname(p$a), matrix(0, 2, 3))
  expect_identical(p$d, 3L)
  p0 <- moe_params(beta0 = c(0, 1), beta1 = c(1, 1), a = c(0, 0), b = c(2, -2),
                   expert = "constant")
  expect_identical(unname(p0$a), matrix(0, 2, 1))
})

test_that("the polynomial expert keeps its degree as an integer; others drop it", {
  p <- make(expert = "polynomial", degree = 3)
  expect_identical(p$degree, 3L)
  expect_null(make(expert = "relu", degree = 3)$degree)
})

test_that("gating and expert are matched partially", {
  p <- make(gating = "soft", beta0 = c(1, 0), beta1 = c(2, 0), expert = "poly", degree = 2)
  expect_identical(p$gating, "softmax")
  expect_identical(p$expert, "polynomial")
})

test_that("softmax accepts a zero reference row, k = 1 included", {
  p <- make(gating = "softmax", beta0 = c(1, 0), beta1 = c(2, 0))
  expect_identical(p$gating, "softmax")
  p1 <- moe_params(beta0 = 0, beta1 = 0, a = 1, b = 0, gating = "softmax")
  expect_identical(p1$k, 1L)
})

test_that("every bad argument gives an error that names it", {
  # beta0
  expect_error(make(beta0 = "a"), "`beta0`")
  expect_error(make(beta0 = list(1, 2)), "`beta0`")
  expect_error(make(beta0 = c(TRUE, FALSE)), "`beta0`")
  expect_error(make(beta0 = numeric(0)), "`beta0`")
  expect_error(make(beta0 = matrix(1, 2, 2)), "`beta0`")
  expect_error(make(beta0 = c(1, NA)), "`beta0` must contain only finite values")
  expect_error(make(beta0 = c(1, Inf)), "`beta0` must contain only finite values")
  expect_error(make(beta0 = c(NaN, 1)), "`beta0` must contain only finite values")
  # beta1
  expect_error(make(beta1 = c("a", "b")), "`beta1`")
  expect_error(make(beta1 = 1), "`beta1`.*2 rows")
  expect_error(make(beta1 = c(1, 2, 3)), "`beta1`")
  expect_error(make(beta1 = matrix(1, 3, 2)), "`beta1`.*k = 2 rows")
  expect_error(make(beta1 = matrix(numeric(0), 2, 0)), "`beta1`")
  expect_error(make(beta1 = c(1, NA)), "`beta1` must contain only finite values")
  expect_error(make(beta1 = c(1, -Inf)), "`beta1` must contain only finite values")
  expect_error(make(beta1 = list(1, 2)), "`beta1`")
  # a
  expect_error(make(a = NULL), "`a`")
  expect_error(make(a = "x"), "`a`")
  expect_error(make(a = 1), "`a`")
  expect_error(make(a = matrix(1, 2, 2)), "`a` must have as many columns as `beta1`")
  expect_error(make(a = c(1, NaN)), "`a` must contain only finite values")
  expect_error(make(a = c(1, 2), expert = "constant"), "`a` must be NULL or zero")
  # b
  expect_error(make(b = "x"), "`b`")
  expect_error(make(b = c(1, 2, 3)), "`b`.*length k = 2")
  expect_error(make(b = 1), "`b`")
  expect_error(make(b = NULL), "`b`")
  expect_error(make(b = c(1, NA)), "`b` must contain only finite values")
  expect_error(make(b = c(Inf, 1)), "`b` must contain only finite values")
  # gating and expert
  expect_error(make(gating = "tanh"), "`gating` must be one of")
  expect_error(make(gating = NA), "`gating`")
  expect_error(make(gating = c("sigmoid", "softmax")), "`gating`")
  expect_error(make(gating = 1), "`gating`")
  expect_error(make(expert = "foo"), "`expert` must be one of")
  expect_error(make(expert = 3), "`expert`")
  # degree
  expect_error(make(expert = "polynomial"), "`degree` must be given")
  expect_error(make(expert = "polynomial", degree = 2.5), "`degree`.*not 2.5")
  expect_error(make(expert = "polynomial", degree = 0), "`degree`.*>= 1")
  expect_error(make(expert = "polynomial", degree = -2), "`degree`")
  expect_error(make(expert = "polynomial", degree = "2"), "`degree`")
  expect_error(make(expert = "polynomial", degree = NA), "`degree`")
  expect_error(make(expert = "polynomial", degree = c(2, 3)), "`degree`")
  # the softmax reference row
  expect_error(make(gating = "softmax"), "`beta0\\[2\\]` and `beta1\\[2, \\]` must be 0")
  expect_error(make(gating = "softmax", beta0 = c(1, 0)), "`beta1\\[2, \\]` must be 0")
  expect_error(make(gating = "softmax", beta1 = c(1, 0)), "`beta0\\[2\\]`")
  expect_error(moe_params(beta0 = c(0, 0, 0), beta1 = matrix(c(1, 2, 0, 0, 0, 1e-3), 3),
                          a = matrix(1, 3, 2), b = c(0, 0, 0), gating = "softmax"),
               "reference")
})

test_that("print() shows the gate, the experts and one row per atom", {
  p <- make()
  expect_output(print(p), "2 relu experts, sigmoid gate, d = 1")
  expect_output(print(p), "expert 2")
  out <- NULL
  utils::capture.output(out <- withVisible(print(p)))
  expect_false(out$visible)
  expect_identical(out$value, p)
  expect_output(print(make(expert = "polynomial", degree = 3)), "polynomial \\(degree 3\\)")
  expect_output(print(make(gating = "softmax", beta0 = c(1, 0), beta1 = c(2, 0))),
                "expert 2 is the softmax reference")
  expect_output(print(moe_params(beta0 = 0, beta1 = 1, a = 1, b = 0)), "1 relu expert,")
  expect_output(print(make(gating = "normalized_sigmoid")), "normalized sigmoid gate")
})

test_that("params_table has the weights and every parameter", {
  p <- moe_params(beta0 = c(-1, 2), beta1 = matrix(1:4, 2), a = matrix(5:8, 2), b = c(9, 10))
  tab <- sigmoe:::params_table(p)
  expect_identical(names(tab), c("weight", "beta0", "beta1.x1", "beta1.x2", "a.x1", "a.x2", "b"))
  expect_equal(tab$weight, 1 / (1 + exp(c(1, -2))))
  expect_identical(tab$a.x2, c(7, 8))
  pc <- moe_params(beta0 = c(-1, 2), beta1 = c(1, 2), b = c(9, 10), expert = "constant")
  expect_false(any(grepl("^a\\.", names(sigmoe:::params_table(pc)))))
})

test_that("atom weights are sigma(beta0) for sigmoid gates and exp(beta0) for softmax", {
  beta0 <- c(-2, 0.5, 0)
  ps <- moe_params(beta0 = beta0, beta1 = c(1, 1, 0), a = c(1, 1, 1), b = c(0, 0, 0))
  expect_equal(sigmoe:::atom_weights(ps), 1 / (1 + exp(-beta0)))
  pn <- moe_params(beta0 = beta0, beta1 = c(1, 1, 0), a = c(1, 1, 1), b = c(0, 0, 0),
                   gating = "normalized_sigmoid")
  expect_equal(sigmoe:::atom_weights(pn), 1 / (1 + exp(-beta0)))
  pm <- moe_params(beta0 = beta0, beta1 = c(1, 1, 0), a = c(1, 1, 1), b = c(0, 0, 0),
                   gating = "softmax")
  expect_equal(sigmoe:::atom_weights(pm), exp(beta0))
})

test_that("theta follows the documented order and names", {
  p <- moe_params(beta0 = c(1, 2), beta1 = matrix(c(3, 4, 5, 6), 2), a = matrix(c(7, 8, 9, 10), 2),
                  b = c(11, 12))
  th <- sigmoe:::params_theta(p)
  expect_identical(names(th), c("beta0[1]", "beta1[1,1]", "beta1[1,2]", "a[1,1]", "a[1,2]", "b[1]",
                                "beta0[2]", "beta1[2,1]", "beta1[2,2]", "a[2,1]", "a[2,2]", "b[2]"))
  expect_identical(unname(th), c(1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12))
  # softmax: the reference expert has no gate parameters; constant: no slopes
  pm <- moe_params(beta0 = c(1, 0), beta1 = matrix(c(3, 0, 5, 0), 2), b = c(11, 12),
                   gating = "softmax", expert = "constant")
  thm <- sigmoe:::params_theta(pm)
  expect_identical(names(thm), c("beta0[1]", "beta1[1,1]", "beta1[1,2]", "b[1]", "b[2]"))
  expect_identical(unname(thm), c(1, 3, 5, 11, 12))
})

test_that("n_free_params counts the free parameters of every structure", {
  for (gating in c("sigmoid", "softmax", "normalized_sigmoid")) {
    for (expert in c("linear", "relu", "constant")) {
      for (k in 1:3) for (d in c(1L, 3L)) {
        # the softmax reference, and the one expert of a normalized sigmoid
        # gate (identically 1), have no gate parameters
        gated <- if (gating == "softmax" || gating == "normalized_sigmoid" && k == 1) k - 1 else k
        expected <- gated * (1 + d) + k * (if (expert == "constant") 1 else d + 1)
        expect_equal(sigmoe:::n_free_params(k, d, gating, expert), expected)
        expect_length(sigmoe:::param_names(k, d, gating, expert), expected)
      }
    }
  }
})

test_that("theta_params inverts params_theta", {
  set.seed(1)
  for (gating in c("sigmoid", "softmax", "normalized_sigmoid")) {
    for (expert in c("tanh", "constant")) {
      k <- 3; d <- 2
      p <- random_params(k, d, gating, expert)
      th <- sigmoe:::params_theta(p)
      expect_identical(sigmoe:::theta_params(th, p), p)
      # new values land in the right places
      th2 <- th + seq_along(th)
      p2 <- sigmoe:::theta_params(th2, p)
      expect_identical(sigmoe:::params_theta(p2), th2)
      expect_identical(p2$gating, gating)
      if (gating == "softmax") expect_identical(unname(c(p2$beta0[k], p2$beta1[k, ])), c(0, 0, 0))
      if (expert == "constant") expect_true(all(p2$a == 0))
    }
  }
})

test_that("theta_layout describes theta as the plain-R reference unpacks it", {
  # every position of theta holds the block, expert and column the layout
  # says; unpacking and packing follow it, for every gate x expert
  for (gating in gatings) for (cs in expert_cases) for (k in c(1L, 3L)) for (d in c(1L, 3L)) {
    label <- sprintf("%s, k = %d", case_label(gating, cs, d), k)
    lay <- sigmoe:::theta_layout(k, d, gating, cs$expert)
    theta <- seq_along(lay$index) + 0.5
    raw <- ref_unpack(theta, k, d, gating, cs$expert)
    at <- vapply(seq_along(theta), function(t) {
      i <- lay$expert[t]; j <- lay$column[t]
      switch(lay$block[t], beta0 = raw$beta0[i], beta1 = raw$beta1[i, j], a = raw$a[i, j],
             b = raw$b[i])
    }, numeric(1))
    expect_identical(at, theta, label = label)
    template <- moe_params(numeric(k), matrix(0, k, d), if (cs$expert == "constant") NULL else matrix(0, k, d),
                           numeric(k), gating = gating, expert = cs$expert, degree = cs$degree)
    p <- sigmoe:::theta_params(theta, template)
    expect_identical(lapply(unclass(p)[c("beta0", "beta1", "a", "b")], unname), raw, label = label)
    expect_identical(sigmoe:::params_theta(p), stats::setNames(theta, lay$name), label = label)
  }
})

test_that("params_spec is c(k, d, gate code, expert code, degree, output weights)", {
  p <- make(gating = "normalized_sigmoid", expert = "polynomial", degree = 3)
  expect_identical(sigmoe:::params_spec(p), c(2L, 1L, 3L, 6L, 3L, 0L))
  expect_identical(sigmoe:::params_spec(make(expert = "constant", a = NULL)),
                   c(2L, 1L, 1L, 7L, 0L, 0L))
  p$c <- c(1, -2)
  expect_identical(sigmoe:::params_spec(p), c(2L, 1L, 3L, 6L, 3L, 1L))
})

test_that("kept layouts and fit templates are found by their arguments, never by a shared key", {
  # two sets of input names that join to the same text
  n1 <- c("u\rv", "w")
  n2 <- c("u", "v\rw")
  direct <- function(nm) moe_params(beta0 = numeric(2), beta1 = matrix(0, 2, 2, dimnames = list(NULL, nm)),
                                    a = matrix(0, 2, 2), b = numeric(2))
  tmpl <- function(nm) sigmoe:::fit_template(2L, 2L, "sigmoid", "relu", NULL, FALSE, nm)
  for (round in 1:2) {
    expect_identical(tmpl(n1), direct(n1))
    expect_identical(tmpl(n2), direct(n2))
  }
  # end to end: the fits name their inputs as the data do
  set.seed(3)
  x <- matrix(runif(200, -1, 1), ncol = 2)
  y <- x[, 1] + rnorm(100, sd = 0.1)
  for (nm in list(n1, n2, n1)) {
    fit <- suppressWarnings(moe_fit(`colnames<-`(x, nm), y, 2, expert = "linear", nstart = 1))
    expect_identical(colnames(fit$coefficients$beta1), nm)
    expect_identical(fit$xnames, nm)
  }
  # a layout asked for with an integer or a double k is the same layout,
  # and each equals the one built afresh
  for (args in list(list(3L, 2L, "softmax", "linear", FALSE), list(3, 2, "softmax", "linear", FALSE),
                    list(2L, 1L, "sigmoid", "gelu", TRUE), list(3L, 2L, "softmax", "linear", FALSE)))
    expect_identical(do.call(sigmoe:::theta_layout, args), do.call(sigmoe:::theta_layout_build, args))
})
