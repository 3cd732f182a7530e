# Gates (R/gating.R, src/gating.c) against plain-R formulas from the model of vignette("theory").

c_gates <- function(gating, z) {
  .Call(sigmoe:::C_gate_eval, sigmoe:::gating_code(gating), z)
}

test_that("the gate codes are those of src/moe.h", {
  expect_identical(sigmoe:::gating_code(gatings), 1:3)
})

test_that("moe_gates matches the plain-R gates for every gate, d = 1 and d = 3", {
  set.seed(101)
  n <- 50
  for (gating in gatings) {
    for (d in c(1L, 3L)) {
      k <- 3
      raw <- random_raw(k, d, gating, "linear", beta1_sd = 2, b_sd = 1)
      p <- moe_params(raw$beta0, raw$beta1, raw$a, raw$b, gating = gating, expert = "linear")
      x <- matrix(runif(n * d, -1, 1), n, d)
      g <- moe_gates(p, x)
      want <- ref_gates(ref_gate_inputs(raw$beta0, raw$beta1, x), gating)
      expect_identical(dim(g), c(as.integer(n), as.integer(k)))
      expect_identical(colnames(g), paste0("expert", 1:3))
      expect_equal(unname(g), want, tolerance = 1e-13,
                   label = sprintf("moe_gates (%s, d = %d)", gating, d))
      if (gating != "sigmoid") expect_equal(rowSums(g), rep(1, n), tolerance = 1e-14)
    }
  }
})

test_that("d = 1 inputs may be a vector or a one-column data frame", {
  p <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -1), a = c(1, 1), b = c(0, 0))
  x <- c(-0.9, 0, 0.4)
  g <- moe_gates(p, x)
  expect_identical(g, moe_gates(p, matrix(x)))
  expect_identical(g, moe_gates(p, data.frame(u = x)))
  expect_equal(unname(g), 1 / (1 + exp(-cbind(0.5 + 3 * x, -0.5 - x))), tolerance = 1e-14)
})

test_that("one expert: softmax and normalized sigmoid gates are 1, the sigmoid gate is sigma(z)", {
  x <- c(-1, 0.3, 1)
  for (gating in c("softmax", "normalized_sigmoid")) {
    p <- moe_params(beta0 = 0, beta1 = 0, a = 1, b = 0, gating = gating)
    expect_equal(unname(moe_gates(p, x)), matrix(1, 3, 1))
    # whatever the logit: so its gate parameters are not parameters of the
    # model, and a mixing measure must hold them at 0
    expect_equal(c_gates(gating, matrix(c(-30, -2, 0, 1.5, 30), ncol = 1)), matrix(1, 5, 1))
    expect_error(moe_params(beta0 = 1.5, beta1 = -2, a = 1, b = 0, gating = gating),
                 "`beta0\\[1\\]` and `beta1\\[1, \\]` must be 0")
  }
  p <- moe_params(beta0 = 1.5, beta1 = -2, a = 1, b = 0)
  expect_equal(unname(moe_gates(p, x)), matrix(1 / (1 + exp(-(1.5 - 2 * x))), 3, 1),
               tolerance = 1e-14)
})

test_that("the C kernel matches plain R on a grid of gate inputs", {
  set.seed(7)
  z <- matrix(rnorm(4 * 200, sd = 6), 200, 4)
  for (gating in gatings) {
    expect_equal(c_gates(gating, z), ref_gates(z, gating), tolerance = 1e-13,
                 label = sprintf("C_gate_eval (%s)", gating))
  }
})

test_that("the sigmoid gate keeps full relative precision in both tails", {
  z <- matrix(seq(-700, 700, length.out = 2801), ncol = 1)
  g <- c_gates("sigmoid", z)
  expect_lt(max(abs(g / stats::plogis(z) - 1)), 1e-13)
})

test_that("the vectorised exponential keeps the sigmoid within a few ulps everywhere", {
  # The gates use sigmoe's own branch-free e^x (src/simd.h), not libm's.
  # Against exp(z) / (1 + exp(z)) from R's libm, elementwise: a relative
  # 1e-15 (a few ulps) wherever the result is a normal number, and within two
  # of the smallest subnormals (4.9e-324) below that, down to where it is 0.
  set.seed(7)
  z <- c(-runif(20000, 0, 746), -runif(20000, 0, 40), -runif(2000, 700, 746),
         -10^runif(2000, -300, 0), seq(-746, 0, by = 0.125))
  g <- drop(c_gates("sigmoid", matrix(z, ncol = 1)))
  want <- exp(z) / (1 + exp(z))
  normal <- want > .Machine$double.xmin
  expect_lt(max(abs(g[normal] / want[normal] - 1)), 1e-15)
  expect_lte(max(abs(g[!normal] - want[!normal])), 2 * 4.9406564584124654e-324)
  expect_true(any(!normal & want > 0)) # the subnormal range was covered
  # the upper half, sigma(-z) = 1 / (1 + exp(z)) for z <= 0
  g_up <- drop(c_gates("sigmoid", matrix(-z, ncol = 1)))
  expect_lt(max(abs(g_up * (1 + exp(z)) - 1)), 1e-15)
  expect_equal(c_gates("sigmoid", matrix(c(0, -0, -Inf, Inf, NaN), ncol = 1)),
               matrix(c(0.5, 0.5, 0, 1, NaN), ncol = 1))
  # softmax and normalized sigmoid rows built from the same exponential
  zz <- cbind(z[1:5000], 0)
  expect_lt(max(abs(c_gates("softmax", zz)[, 1] / want[1:5000] - 1)[normal[1:5000]]), 1e-15)
})

test_that("gates are finite at |z| ~ 800 and limits are right", {
  zs <- matrix(c(-800, 800, -1e4, 1e4, 0, -745, 745), ncol = 1)
  gs <- c_gates("sigmoid", zs)
  expect_false(anyNA(gs))
  expect_true(all(is.finite(gs)))
  expect_equal(drop(gs), c(0, 1, 0, 1, 0.5, stats::plogis(-745), 1))
  expect_true(gs[1] >= 0 && gs[1] < 1e-300)

  z <- rbind(c(800, -800, 0),
             c(800, 799, 0),
             c(-800, -800, -800),
             c(800, 800, 800),
             c(-800, 0, 800),
             c(1e4, -1e4, 0))
  for (gating in gatings) {
    g <- c_gates(gating, z)
    expect_true(all(is.finite(g)), label = sprintf("%s gates at |z| ~ 800 are finite", gating))
    if (gating != "sigmoid")
      expect_equal(rowSums(g), rep(1, nrow(z)), tolerance = 1e-15,
                   label = sprintf("%s gates at |z| ~ 800 sum to 1", gating))
    expect_equal(g, ref_gates_stable(z, gating), tolerance = 1e-14,
                 label = sprintf("%s gates at |z| ~ 800", gating))
  }
  # the values, worked out by hand
  expect_equal(c_gates("softmax", z)[2, ], c(1 / (1 + exp(-1)), 1 / (1 + exp(1)), 0))
  expect_equal(c_gates("normalized_sigmoid", z)[1, ], c(2 / 3, 0, 1 / 3))
})

test_that("the normalized sigmoid tends to the softmax where every sigma(z) underflows", {
  # sigma(z) = exp(z) (1 + O(exp(z))), so for z << 0 the normalized sigmoid is
  # the softmax of z: the gates of (-800, -801, -802) are softmax(0, -1, -2),
  # not equal gates.
  z <- rbind(c(-800, -801, -802),
             c(-740, -745, -1000),
             c(-760, -700, -800))
  g <- c_gates("normalized_sigmoid", z)
  expect_true(all(is.finite(g)))
  expect_equal(rowSums(g), rep(1, 3), tolerance = 1e-15)
  expect_equal(g, ref_gates_stable(z, "normalized_sigmoid"), tolerance = 1e-10)
  expect_equal(g[1, ], exp(-(0:2)) / sum(exp(-(0:2))), tolerance = 1e-10)
})

test_that("moe_gates is stable for parameters with |z| ~ 800", {
  x <- c(-1, 0, 1)
  p <- moe_params(beta0 = c(800, -800, 0), beta1 = c(0, 0, 0), a = c(1, 1, 1), b = c(0, 0, 0),
                  gating = "softmax")
  expect_equal(unname(moe_gates(p, x)), matrix(c(1, 0, 0), 3, 3, byrow = TRUE))
  p2 <- moe_params(beta0 = c(0, 0), beta1 = c(800, -800), a = c(1, 1), b = c(0, 0))
  g2 <- moe_gates(p2, x)
  expect_false(anyNA(g2))
  expect_equal(unname(g2), cbind(c(0, 0.5, 1), c(1, 0.5, 0)))
  expect_true(all(is.finite(moe_mean(p2, x))))
})

test_that("softmax is invariant to adding a constant to every gate input of a row", {
  set.seed(3)
  z <- matrix(rnorm(30 * 4, sd = 3), 30, 4)
  shift <- c(rep(0, 10), runif(10, -5, 5), rep(700, 5), rep(-700, 5))
  g <- c_gates("softmax", z)
  expect_equal(c_gates("softmax", z + shift), g, tolerance = 1e-12)
  expect_equal(g, ref_gates(z, "softmax"), tolerance = 1e-13)
})

test_that("softmax gates do not depend on which expert is the reference", {
  # Subtracting the gate vector of expert j from every expert's gate vector
  # leaves the softmax unchanged; with experts reordered so that j is last,
  # this is the same model with reference j.
  set.seed(5)
  k <- 3; d <- 2
  beta0 <- c(rnorm(2), 0)
  beta1 <- rbind(matrix(rnorm(4), 2), 0)
  a <- matrix(rnorm(k * d), k); b <- rnorm(k)
  pA <- moe_params(beta0, beta1, a, b, gating = "softmax", expert = "tanh")
  ord <- c(1, 3, 2)
  pB <- moe_params(beta0[ord] - beta0[2], sweep(beta1[ord, ], 2, beta1[2, ]), a[ord, ], b[ord],
                   gating = "softmax", expert = "tanh")
  x <- matrix(runif(40, -1, 1), 20)
  expect_equal(unname(moe_gates(pB, x)), unname(moe_gates(pA, x)[, ord]), tolerance = 1e-13)
  expect_equal(moe_mean(pB, x), moe_mean(pA, x), tolerance = 1e-13)
})

test_that("a two-expert softmax equals a sigmoid pair sigma(z), sigma(-z)", {
  # the two-expert softmax = sigmoid identity: the same data for both gates.
  x <- seq(-1, 1, by = 0.25)
  pm <- moe_params(beta0 = c(0.7, 0), beta1 = c(-3, 0), a = c(1, -1), b = c(0.2, 0.1),
                   gating = "softmax", expert = "relu")
  ps <- moe_params(beta0 = c(0.7, -0.7), beta1 = c(-3, 3), a = c(1, -1), b = c(0.2, 0.1),
                   gating = "sigmoid", expert = "relu")
  expect_equal(moe_gates(pm, x), moe_gates(ps, x), tolerance = 1e-14)
  expect_equal(moe_mean(pm, x), moe_mean(ps, x), tolerance = 1e-14)
})

test_that("bad inputs are errors", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  expect_error(moe_gates(p, matrix(0, 2, 2)), "`x` must have d = 1 column")
  expect_error(moe_gates(p, c(0, NA)), "`x`.*element 2 is NA")
  expect_error(moe_gates(list(), 1), "`params`")
  expect_error(.Call(sigmoe:::C_gate_eval, 4L, matrix(0, 2, 2)), "bad gating code")
  expect_error(.Call(sigmoe:::C_gate_eval, 1L, c(0, 1)), "double matrix")
})
