# Experts (R/experts.R, src/experts.c) against plain-R formulas, closed-form
# derivatives and central finite differences (vignette("theory"), sections 1 and 2).

# The experts under test, with the degree of each polynomial.
kernel_cases <- list(
  list(expert = "linear"), list(expert = "relu"), list(expert = "gelu"),
  list(expert = "sigmoid"), list(expert = "tanh"),
  list(expert = "polynomial", degree = 1L), list(expert = "polynomial", degree = 2L),
  list(expert = "polynomial", degree = 3L), list(expert = "polynomial", degree = 4L),
  list(expert = "constant")
)
kernel_label <- function(cs) {
  if (is.null(cs$degree)) cs$expert else sprintf("%s (degree %d)", cs$expert, cs$degree)
}

expert_eval <- function(t, cs, deriv = FALSE) {
  sigmoe:::expert_eval(t, cs$expert, cs$degree, deriv = deriv)
}

# t on a grid that stays 0.005 away from the relu kink.
t_grid <- seq(-4.0025, 4, by = 0.05)

test_that("the expert codes are those of src/moe.h", {
  expect_identical(sigmoe:::expert_code(c("linear", "relu", "gelu", "sigmoid", "tanh",
                                          "polynomial", "constant")), 1:7)
})

test_that("every expert matches its plain-R formula", {
  for (cs in kernel_cases) {
    expect_equal(expert_eval(t_grid, cs), ref_expert(t_grid, cs$expert, cs$degree),
                 tolerance = 1e-14, label = kernel_label(cs))
  }
})

test_that("every expert derivative matches its closed form", {
  for (cs in kernel_cases) {
    expect_equal(expert_eval(t_grid, cs, deriv = TRUE), ref_dexpert(t_grid, cs$expert, cs$degree),
                 tolerance = 1e-14, label = paste(kernel_label(cs), "derivative"))
  }
})

test_that("every expert derivative matches central finite differences", {
  h <- 1e-6
  for (cs in kernel_cases) {
    fd <- (expert_eval(t_grid + h, cs) - expert_eval(t_grid - h, cs)) / (2 * h)
    dh <- expert_eval(t_grid, cs, deriv = TRUE)
    expect_lt(max(abs(dh - fd) / pmax(1, abs(fd))), 1e-6,
              label = paste(kernel_label(cs), "derivative vs finite differences"))
  }
})

test_that("relu has value and derivative 0 at t = 0, derivative 1 just above", {
  cs <- list(expert = "relu")
  expect_identical(expert_eval(0, cs), 0)
  expect_identical(expert_eval(0, cs, deriv = TRUE), 0)
  expect_identical(expert_eval(c(-1e-300, 1e-300), cs, deriv = TRUE), c(0, 1))
  expect_identical(expert_eval(c(-2, 3), cs), c(0, 3))
})

test_that("experts and derivatives are finite and right for |t| ~ 800", {
  t <- c(-800, -40, 40, 800)
  for (cs in kernel_cases[c(2:5)]) {
    v <- expert_eval(t, cs)
    dv <- expert_eval(t, cs, deriv = TRUE)
    expect_true(all(is.finite(v)) && all(is.finite(dv)), label = paste(kernel_label(cs), "at |t| ~ 800"))
  }
  expect_equal(expert_eval(t, list(expert = "sigmoid")), c(0, stats::plogis(-40), stats::plogis(40), 1))
  expect_equal(expert_eval(t, list(expert = "sigmoid"), TRUE), c(0, stats::dlogis(-40), stats::dlogis(40), 0))
  expect_equal(expert_eval(t, list(expert = "tanh")), c(-1, -1, 1, 1))
  expect_equal(expert_eval(t, list(expert = "tanh"), TRUE), c(0, 0, 0, 0))
  expect_equal(expert_eval(t, list(expert = "gelu")), c(0, -40 * stats::pnorm(-40), 40, 800))
  expect_equal(expert_eval(t, list(expert = "gelu"), TRUE), c(0, 0, 1, 1))
})

test_that("gelu keeps relative precision in its lower tail", {
  t <- c(-30, -20, -10, -5)
  expect_equal(expert_eval(t, list(expert = "gelu")), t * stats::pnorm(t), tolerance = 1e-12)
  d <- expert_eval(t, list(expert = "gelu"), deriv = TRUE)
  expect_equal(d, stats::pnorm(t) + t * stats::dnorm(t), tolerance = 1e-8)
})

test_that("a polynomial of degree 1 is the linear expert", {
  p1 <- list(expert = "polynomial", degree = 1L)
  expect_identical(expert_eval(t_grid, p1), expert_eval(t_grid, list(expert = "linear")))
  expect_identical(expert_eval(t_grid, p1, TRUE), rep(1, length(t_grid)))
  # odd and even powers keep their sign
  expect_identical(expert_eval(c(-2, 2), list(expert = "polynomial", degree = 3L)), c(-8, 8))
  expect_identical(expert_eval(c(-2, 2), list(expert = "polynomial", degree = 2L)), c(4, 4))
})

test_that("expert_eval keeps the shape of a matrix and accepts integers", {
  t <- matrix(c(-1, 0.5, 2, -3), 2)
  out <- sigmoe:::expert_eval(t, "tanh")
  expect_identical(dim(out), c(2L, 2L))
  expect_equal(out, tanh(t))
  expect_identical(sigmoe:::expert_eval(c(-1L, 2L), "relu"), c(0, 2))
})

test_that("moe_experts matches h(a'x + b) in plain R for every expert, d = 1 and d = 3", {
  set.seed(202)
  n <- 40; k <- 3
  for (cs in kernel_cases) {
    for (d in c(1L, 3L)) {
      a <- if (cs$expert == "constant") NULL else matrix(rnorm(k * d), k, d)
      b <- rnorm(k)
      p <- moe_params(rnorm(k), matrix(rnorm(k * d), k, d), a, b, expert = cs$expert,
                      degree = cs$degree)
      x <- matrix(runif(n * d, -1, 1), n, d)
      want <- if (cs$expert == "constant") matrix(b, n, k, byrow = TRUE) else
        sapply(seq_len(k), function(i) ref_expert(b[i] + drop(x %*% a[i, ]), cs$expert, cs$degree))
      got <- moe_experts(p, x)
      expect_identical(dim(got), c(as.integer(n), as.integer(k)))
      expect_identical(colnames(got), paste0("expert", 1:3))
      expect_equal(unname(got), want, tolerance = 1e-13,
                   label = sprintf("moe_experts (%s, d = %d)", kernel_label(cs), d))
    }
  }
})

test_that("the constant expert ignores x", {
  p <- moe_params(beta0 = c(0, 1), beta1 = c(1, -1), b = c(2, -3), expert = "constant")
  expect_identical(unname(moe_experts(p, c(-1, 0, 1))), matrix(c(2, -3), 3, 2, byrow = TRUE))
})

test_that("the C adapter rejects what the R side never sends", {
  expect_error(.Call(sigmoe:::C_expert_eval, 8L, 0L, 1, FALSE), "bad expert code")
  expect_error(.Call(sigmoe:::C_expert_eval, 6L, 0L, 1, FALSE), "bad degree")
  expect_error(.Call(sigmoe:::C_expert_eval, 1L, 0L, 1L, FALSE), "must be double")
})
