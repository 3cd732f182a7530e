# The data-driven starts of the fit (R/starts.R): their shape, their
# randomness, and the linear algebra they rest on.

test_that("every expert is expanded around t0 with its own value and derivative", {
  for (cs in expert_cases) {
    an <- sigmoe:::expert_anchor(cs$expert, cs$degree)
    t0 <- if (cs$expert == "polynomial") 1 else 0
    expect_identical(names(an), c("t0", "h0", "h1"))
    expect_equal(unname(an), c(t0, ref_expert(t0, cs$expert, cs$degree),
                               ref_dexpert(t0, cs$expert, cs$degree)),
                 label = case_label("any", cs, 1L))
  }
})

test_that("data starts are named thetas of the model; the first one draws no random numbers", {
  set.seed(41)
  x <- matrix(runif(400, -1, 1), 200, 2)
  y <- sin(3 * x[, 1]) + x[, 2]
  for (gating in gatings) for (cs in expert_cases[c(1, 2, 8)]) {
    template <- moe_params(numeric(3), matrix(0, 3, 2), matrix(0, 3, 2), numeric(3),
                           gating = gating, expert = cs$expert)
    set.seed(1)
    before <- .Random.seed
    first <- sigmoe:::data_starts(x, y, template, 1L, moe_control())
    expect_identical(.Random.seed, before)
    starts <- sigmoe:::data_starts(x, y, template, 3L, moe_control())
    expect_length(starts, 3L)
    expect_identical(starts[[1]], first[[1]])
    expect_identical(lapply(starts, names), rep(list(sigmoe:::param_names(3, 2, gating, cs$expert)), 3))
    expect_true(all(is.finite(unlist(starts))))
    set.seed(1)
    expect_identical(sigmoe:::data_starts(x, y, template, 3L, moe_control()), starts)
  }
  expect_identical(sigmoe:::data_starts(x, y, template, 0L, moe_control()), list())
})

test_that("a search's kept rows give the starts and the random numbers of rows chosen per start", {
  set.seed(42)
  x <- matrix(runif(600, -1, 1), 300, 2)
  y <- sin(3 * x[, 1]) + x[, 2] + rnorm(300, sd = 0.1)
  template <- moe_params(numeric(3), matrix(0, 3, 2), matrix(0, 3, 2), numeric(3), expert = "relu")
  w <- rep(c(0, 1, 2), 100)
  for (weights in list(NULL, w)) for (from in c(1L, 2L, 5L)) {
    ctl <- moe_control()
    basis <- sigmoe:::fixed_start_basis(x, y, ctl, weights)
    expect_false(is.null(basis))
    set.seed(9)
    kept <- sigmoe:::data_starts(x, y, template, 3L, ctl, weights, from = from, basis = basis)
    after_kept <- .Random.seed
    set.seed(9)
    fresh <- sigmoe:::data_starts(x, y, template, 3L, ctl, weights, from = from)
    expect_identical(kept, fresh)
    expect_identical(.Random.seed, after_kept)
  }
  # rows of positive weight beyond start_rows: each call draws its own, so
  # nothing is kept
  expect_null(sigmoe:::fixed_start_basis(x, y, moe_control(start_rows = 299), NULL))
  expect_null(sigmoe:::fixed_start_basis(x, y, moe_control(start_rows = 199), w))
  expect_false(is.null(sigmoe:::fixed_start_basis(x, y, moe_control(start_rows = 200), w)))
  # the kept rows are those of positive weight, standardised
  b <- sigmoe:::fixed_start_basis(x, y, moe_control(), w)
  expect_identical(b$xs, x[w > 0, ])
  expect_identical(b$sw, sqrt(w[w > 0]))
  expect_equal(colMeans(b$xz), c(0, 0))
  expect_equal(sqrt(colMeans(b$xz^2)), c(1, 1))
})

test_that("the start gates switch between the pieces of the projection", {
  p <- seq(-2, 2, length.out = 101)
  levels <- (1:3 - 0.5) / 3
  centers <- stats::quantile(p, levels, names = FALSE, type = 7)
  for (gating in c("softmax", "normalized_sigmoid")) {
    g <- sigmoe:::start_gates(p, levels, gating, 3L, first = TRUE)
    z <- outer(centers, g$slope) + rep(g$intercept, each = 3L)
    # at each centre its own expert has the largest logit
    expect_identical(apply(z, 1, which.max), 1:3, label = gating)
  }
  g <- sigmoe:::start_gates(p, levels, "sigmoid", 3L, first = TRUE)
  # one global expert (slope 0, gate sigma(3)), the others switched on past
  # the centres, on alternating sides
  expect_identical(g$slope[1], 0)
  expect_identical(g$intercept[1], 3)
  expect_identical(sign(g$slope[-1]), c(1, -1))
  expect_equal(-g$intercept[-1] / g$slope[-1], centers[-1])
  expect_identical(sigmoe:::start_gates(p, 0.5, "softmax", 1L, first = TRUE),
                   list(slope = 0, intercept = 0))
})

test_that("given the gates, linear experts are fitted by least squares", {
  set.seed(42)
  xs <- matrix(runif(600, -1, 1), 300, 2)
  g <- cbind(stats::plogis(4 * xs[, 1]), stats::plogis(-4 * xs[, 1]))
  alpha <- rbind(c(1, -0.5), c(-2, 0.3))
  beta <- c(0.2, -0.1)
  ys <- rowSums(g * (xs %*% t(alpha) + rep(beta, each = 300)))
  ex <- sigmoe:::start_experts(xs, ys, g, "linear", sigmoe:::expert_anchor("linear", NULL))
  # up to the small ridge that keeps the solve defined
  expect_equal(ex$a, alpha, tolerance = 1e-5)
  expect_equal(ex$b, beta, tolerance = 1e-5)
  # the constant expert keeps zero slopes
  cst <- sigmoe:::start_experts(xs, ys, g, "constant", sigmoe:::expert_anchor("constant", NULL))
  expect_identical(cst$a, matrix(0, 2, 2))
  expect_length(cst$b, 2L)
})
