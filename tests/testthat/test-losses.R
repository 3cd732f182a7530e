# Voronoi loss and expert error against plain-R computations of the definitions in vignette("theory").

# Plain-R Voronoi loss, written from its formula (vignette("theory"), section 3).
voronoi_plain <- function(fit, truth, r_exact = 1, r_over = 2) {
  loc <- function(p) if (p$expert == "constant") cbind(p$beta1, p$b) else cbind(p$beta1, p$a, p$b)
  w <- if (fit$gating == "softmax") exp(fit$beta0) else plogis(fit$beta0)
  wt <- if (truth$gating == "softmax") exp(truth$beta0) else plogis(truth$beta0)
  L <- loc(fit)
  Lt <- loc(truth)
  d <- fit$d
  cell <- apply(L, 1, function(l) which.min(colSums((t(Lt) - l)^2)))
  loss <- 0
  for (j in seq_len(truth$k)) {
    A <- which(cell == j)
    loss <- loss + abs(sum(w[A]) - wt[j])
    for (i in A) {
      db1 <- sqrt(sum((L[i, 1:d] - Lt[j, 1:d])^2))
      deta <- sqrt(sum((L[i, -(1:d)] - Lt[j, -(1:d)])^2))
      if (length(A) == 1L) {
        cij <- if (fit$gating == "softmax") 0 else abs(fit$beta0[i] - truth$beta0[j])
        loss <- loss + w[i] * (cij + db1 + deta)^r_exact
      } else {
        loss <- loss + w[i] * (db1^r_over + deta^r_over)
      }
    }
  }
  list(loss = loss, cell = unname(cell))
}

permute_atoms <- function(p, perm) {
  moe_params(p$beta0[perm], p$beta1[perm, , drop = FALSE],
             if (p$expert == "constant") NULL else p$a[perm, , drop = FALSE], p$b[perm],
             gating = p$gating, expert = p$expert, degree = p$degree)
}

test_that("the Voronoi loss is 0 at the truth for every gate", {
  for (g in c("sigmoid", "softmax", "normalized_sigmoid")) {
    for (e in c("relu", "linear", "constant")) {
      set.seed(1)
      truth <- random_params(3, 2, g, e)
      loss <- voronoi_loss(truth, truth)
      expect_equal(as.numeric(loss), 0)
      expect_identical(attr(loss, "cell"), 1:3)
      expect_identical(attr(loss, "cells")$type, rep("exact", 3))
    }
  }
})

test_that("the Voronoi loss matches a plain-R implementation on random atoms", {
  set.seed(42)
  seen <- character(0)
  for (rep in 1:60) {
    g <- sample(c("sigmoid", "softmax", "normalized_sigmoid"), 1)
    e <- sample(c("relu", "linear", "gelu", "constant"), 1)
    d <- sample(1:3, 1)
    kt <- sample(1:4, 1)
    k <- sample(1:6, 1)
    truth <- random_params(kt, d, g, e)
    fit <- random_params(k, d, g, e, scale = 1.5)
    r <- c(sample(c(1, 0.5, 2), 1), sample(c(2, 1, 3), 1))
    got <- voronoi_loss(fit, truth, r_exact = r[1], r_over = r[2], align = "none")
    ref <- voronoi_plain(fit, truth, r[1], r[2])
    expect_equal(as.numeric(got), ref$loss, tolerance = 1e-12)
    expect_identical(attr(got, "cell"), as.integer(ref$cell))
    cells <- attr(got, "cells")
    expect_equal(sum(cells$total), ref$loss, tolerance = 1e-12)
    seen <- union(seen, cells$type)
  }
  # the random cases covered empty, exact and over-specified cells
  expect_setequal(seen, c("empty", "exact", "over"))
})

test_that("an empty cell pays its true weight and a smaller fit is allowed", {
  truth <- moe_params(beta0 = c(0, 1, -1), beta1 = c(-3, 0, 3), a = c(1, 2, 3),
                      b = c(0, 0, 0), expert = "linear")
  fit <- moe_params(beta0 = c(0, -1), beta1 = c(-3, 3), a = c(1, 3), b = c(0, 0),
                    expert = "linear")
  loss <- voronoi_loss(fit, truth)
  cells <- attr(loss, "cells")
  expect_identical(cells$type, c("exact", "empty", "exact"))
  expect_equal(cells$mass[2], plogis(1))
  expect_equal(as.numeric(loss), plogis(1))
})

test_that("the Voronoi loss does not depend on the order of the atoms", {
  set.seed(3)
  for (g in c("sigmoid", "softmax")) {
    truth <- random_params(3, 2, g, "relu")
    fit <- random_params(5, 2, g, "relu")
    base <- as.numeric(voronoi_loss(fit, truth))
    # the softmax reference stays last: permute the others
    pf <- if (g == "softmax") c(sample(4), 5) else sample(5)
    pt <- if (g == "softmax") c(2, 1, 3) else c(3, 1, 2)
    expect_equal(as.numeric(voronoi_loss(permute_atoms(fit, pf), truth)), base, tolerance = 1e-13)
    expect_equal(as.numeric(voronoi_loss(fit, permute_atoms(truth, pt))), base, tolerance = 1e-13)
  }
})

test_that("ties go to the lowest true atom", {
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(-1, 1), a = c(0, 0), b = c(0, 0), expert = "linear")
  fit <- moe_params(beta0 = 0, beta1 = 0, a = 0, b = 0, expert = "linear")
  expect_identical(attr(voronoi_loss(fit, truth), "cell"), 1L)
})

test_that("softmax fits are aligned by their total weight", {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(2, 0), a = c(1, -1), b = c(0, 0.3),
                      gating = "softmax", expert = "relu")
  # split the reference atom in two halves, then re-express relative to the
  # last copy: the same regression function, every weight doubled
  split <- moe_params(beta0 = c(0.5 + log(2), 0, 0), beta1 = c(2, 0, 0), a = c(1, -1, -1),
                      b = c(0, 0.3, 0.3), gating = "softmax", expert = "relu")
  x <- seq(-1, 1, by = 0.1)
  expect_equal(moe_mean(split, x), moe_mean(truth, x))
  aligned <- voronoi_loss(split, truth)
  expect_equal(as.numeric(aligned), 0, tolerance = 1e-14)
  expect_equal(attr(aligned, "shift"), -log(2))
  expect_gt(as.numeric(voronoi_loss(split, truth, align = "none")), 1)
})

test_that("voronoi_loss() takes a moe_fit", {
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                      expert = "relu")
  set.seed(1)
  d <- moe_simulate(truth, n = 400, sd = 0.02)
  fit <- moe_fit(d$x1, d$y, k = 2, start = truth, nstart = 0)
  expect_equal(as.numeric(voronoi_loss(fit, truth)), as.numeric(voronoi_loss(coef(fit), truth)))
  expect_lt(as.numeric(voronoi_loss(fit, truth)), 1)
  expect_output(print(voronoi_loss(fit, truth)), "Voronoi loss")
})

test_that("the expert error is 0 at the truth and matches a plain-R L2 distance", {
  set.seed(5)
  truth <- random_params(3, 2, "sigmoid", "gelu")
  expect_equal(as.numeric(expert_error(truth, truth)), c(0, 0, 0))
  fit <- random_params(4, 2, "sigmoid", "gelu")
  x <- matrix(runif(600, -1, 1), 300, 2)
  err <- expert_error(fit, truth, x)
  h <- function(p) {
    t <- x %*% t(p$a) + rep(p$b, each = nrow(x))
    t * pnorm(t)
  }
  H <- h(fit)
  Ht <- h(truth)
  D <- outer(1:4, 1:3, Vectorize(function(i, j) sqrt(mean((H[, i] - Ht[, j])^2))))
  cell <- attr(voronoi_loss(fit, truth), "cell")
  expect_identical(attr(err, "cell"), cell)
  ref <- vapply(1:3, function(j) if (any(cell == j)) min(D[cell == j, j]) else min(D[, j]), 1)
  expect_equal(as.numeric(err), ref, tolerance = 1e-12)
  expect_equal(unname(attr(err, "distances")), D, tolerance = 1e-12)
  expect_identical(attr(err, "empty"), !(1:3 %in% cell))
})

test_that("the default sample of expert_error() is fixed and leaves the RNG alone", {
  truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1), b = c(0.5, 0), expert = "relu")
  near <- truth
  near$b[1] <- 0.6
  set.seed(10)
  before <- .Random.seed
  e1 <- expert_error(near, truth)
  expect_identical(.Random.seed, before)
  expect_identical(expert_error(near, truth), e1)
  expect_gt(e1[[1]], 0)
  expect_equal(e1[[2]], 0)
})

test_that("expert_error() compares experts across gates", {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(2, 0), a = c(1, -1), b = c(0, 0.3),
                      gating = "softmax", expert = "relu")
  fit <- moe_params(beta0 = c(0, 0), beta1 = c(2, -2), a = c(1, -1), b = c(0, 0.3),
                    gating = "sigmoid", expert = "relu")
  expect_equal(as.numeric(expert_error(fit, truth)), c(0, 0))
})

test_that("bad arguments are rejected with errors that name them", {
  truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1), b = c(0.5, 0), expert = "relu")
  soft <- moe_params(beta0 = c(1, 0), beta1 = c(2, 0), a = c(1, -1), b = c(0.5, 0),
                     gating = "softmax", expert = "relu")
  lin <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1), b = c(0.5, 0), expert = "linear")
  d2 <- moe_params(beta0 = c(-1, 1), beta1 = matrix(1, 2, 2), a = matrix(1, 2, 2), b = c(0.5, 0))
  expect_error(voronoi_loss(list(), truth), "`fit` must be a `moe_fit` or a `moe_params` object")
  expect_error(voronoi_loss(truth, 1), "`truth` must be a `moe_params` object")
  expect_error(voronoi_loss(soft, truth), "`fit` has a softmax gate but `truth` has a sigmoid gate")
  expect_error(voronoi_loss(lin, truth), "`fit` has linear experts but `truth` has relu experts")
  expect_error(voronoi_loss(d2, truth), "`fit` has d = 2 inputs but `truth` has d = 1")
  expect_error(voronoi_loss(truth, truth, r_exact = 0), "`r_exact` must be a single finite number > 0")
  expect_error(voronoi_loss(truth, truth, r_over = NA), "`r_over` must be")
  expect_error(voronoi_loss(truth, truth, align = "shift"), "`align` must be one of")
  expect_error(voronoi_loss(truth, truth, r_exat = 2), "Unknown argument `r_exat`")
  expect_error(expert_error(truth, truth, x = matrix(0, 3, 2)), "`x` must have d = 1 column")
  expect_error(expert_error(lin, truth), "`fit` has linear experts")
  expect_error(expert_error(d2, truth), "`fit` has d = 2 inputs")
})

# ---- cell_error ------------------------------------------------------------

# Plain-R cell error: cells by nearest true location over (beta1, a, b).
ref_cell_error <- function(fitp, truth, x) {
  loc <- function(p) cbind(p$beta1, p$a, p$b)
  lf <- loc(fitp); lt <- loc(truth)
  cell <- apply(lf, 1, function(r) which.min(colSums((t(lt) - r)^2)))
  gh <- moe_gates(fitp, x) * moe_experts(fitp, x)
  ght <- moe_gates(truth, x) * moe_experts(truth, x)
  vapply(seq_len(truth$k), function(j) {
    s <- if (any(cell == j)) rowSums(gh[, cell == j, drop = FALSE]) else 0
    sqrt(mean((s - ght[, j])^2))
  }, numeric(1))
}

test_that("cell_error is 0 at the truth and for a zero-slope atom split exactly", {
  truth <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(0, -3), a = c(1.5, -1),
                      b = c(0.3, 0.2), gating = "sigmoid", expert = "relu")
  expect_equal(as.vector(cell_error(truth, truth)), c(0, 0))
  # with slope 0 the gate is the constant sigma(0.5): two copies of half its
  # weight give the same function, and so the same cell output
  w <- plogis(0.5) / 2
  split <- moe_params(beta0 = c(qlogis(w), qlogis(w), -0.5), beta1 = c(0, 0, -3),
                      a = c(1.5, 1.5, -1), b = c(0.3, 0.3, 0.2), expert = "relu")
  x <- seq(-1, 1, length.out = 101)
  expect_equal(moe_mean(split, x), moe_mean(truth, x))
  expect_equal(as.vector(cell_error(split, truth, x)), c(0, 0), tolerance = 1e-12)
  expect_identical(attr(cell_error(split, truth, x), "cell"), c(1L, 1L, 2L))
  # with a non-zero slope no two sigmoids of that slope add up to one
  # (vignette("theory"), section 4), so the same split leaves a cell error
  sloped <- truth
  sloped$beta1[1, ] <- 3
  split_sloped <- split
  split_sloped$beta1[1:2, ] <- 3
  expect_gt(cell_error(split_sloped, sloped, x)[[1]], 0.1)
})

test_that("cell_error matches a plain-R computation, including an empty cell", {
  set.seed(11)
  truth <- moe_params(beta0 = c(0.2, -0.4), beta1 = matrix(rnorm(4), 2), a = matrix(rnorm(4), 2),
                      b = rnorm(2), gating = "sigmoid", expert = "gelu")
  x <- matrix(runif(600, -1, 1), 300, 2)
  for (rep in 1:5) {
    fitp <- moe_params(beta0 = rnorm(3), beta1 = matrix(rnorm(6), 3), a = matrix(rnorm(6), 3),
                       b = rnorm(3), gating = "sigmoid", expert = "gelu")
    expect_equal(as.vector(cell_error(fitp, truth, x)), ref_cell_error(fitp, truth, x),
                 tolerance = 1e-12)
  }
  # every fitted atom next to true atom 1: cell 2 is empty and pays its whole norm
  near1 <- moe_params(beta0 = c(0.2, 0.1), beta1 = rbind(truth$beta1[1, ], truth$beta1[1, ]),
                      a = rbind(truth$a[1, ], truth$a[1, ] + 0.01), b = truth$b[c(1, 1)],
                      gating = "sigmoid", expert = "gelu")
  e <- cell_error(near1, truth, x)
  g2 <- moe_gates(truth, x)[, 2] * moe_experts(truth, x)[, 2]
  expect_equal(as.vector(e[2]), sqrt(mean(g2^2)))
})

test_that("cell_error compares gated outputs across gates, with cells on the experts", {
  # the same model under the softmax and the sigmoid gate: no error at all
  soft <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                     gating = "softmax", expert = "relu")
  sig <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "sigmoid", expert = "relu")
  x <- seq(-1, 1, length.out = 201)
  expect_equal(as.vector(cell_error(sig, soft, x)), c(0, 0), tolerance = 1e-14)
  # any other fit: the plain-R error with cells by the nearest (a, b)
  set.seed(13)
  fitp <- moe_params(beta0 = rnorm(3), beta1 = rnorm(3), a = c(1.4, -0.9, 1.6), b = rnorm(3, sd = 0.2),
                     gating = "sigmoid", expert = "relu")
  cell <- apply(cbind(fitp$a, fitp$b), 1, function(r) which.min(colSums((t(cbind(soft$a, soft$b)) - r)^2)))
  gh <- moe_gates(fitp, x) * moe_experts(fitp, x)
  ght <- moe_gates(soft, x) * moe_experts(soft, x)
  ref <- vapply(1:2, function(j) {
    s <- if (any(cell == j)) rowSums(gh[, cell == j, drop = FALSE]) else 0
    sqrt(mean((s - ght[, j])^2))
  }, numeric(1))
  e <- cell_error(fitp, soft, x)
  expect_identical(attr(e, "cell"), as.integer(cell))
  expect_equal(as.vector(e), ref, tolerance = 1e-12)
})

test_that("cell_error is invariant to permuting the fitted atoms", {
  set.seed(12)
  truth <- moe_params(beta0 = c(0.3, 0), beta1 = c(2, 0), a = c(1, -1), b = c(0.1, 0.4),
                      gating = "softmax", expert = "tanh")
  fitp <- moe_params(beta0 = c(0.1, 0.4, 0), beta1 = c(1.8, 2.2, 0), a = c(0.9, 1.1, -1.1),
                     b = c(0.1, 0.2, 0.35), gating = "softmax", expert = "tanh")
  perm <- moe_params(beta0 = fitp$beta0[c(2, 1, 3)], beta1 = fitp$beta1[c(2, 1, 3), ],
                     a = fitp$a[c(2, 1, 3), ], b = fitp$b[c(2, 1, 3)], gating = "softmax",
                     expert = "tanh")
  x <- seq(-1, 1, length.out = 201)
  expect_equal(as.vector(cell_error(perm, truth, x)), as.vector(cell_error(fitp, truth, x)))
})

test_that("cell_error rejects mismatched models with clear errors", {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "relu")
  sig <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "sigmoid", expert = "relu")
  lin <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "sigmoid", expert = "linear")
  expect_error(cell_error(lin, truth), "`fit` has .*linear.* but `truth` has .*relu")
  expect_error(cell_error(sig, "truth"), "`truth` must be a `moe_params` object")
  expect_error(cell_error(1, truth), "`fit` must be a `moe_fit` or a `moe_params` object")
  expect_error(cell_error(truth, truth, x = matrix(0, 3, 2)), "`x` must have d = 1 column")
})

test_that("the Voronoi loss is never NaN for a finite fit, however extreme", {
  t_soft <- moe_params(c(0.5, 0), c(1, 0), c(1, 1), c(0, 0), gating = "softmax", expert = "linear")
  far <- moe_params(c(800, 0), c(1, 0), c(1, 1), c(0, 0), gating = "softmax", expert = "linear")
  # aligned on the log scale: the fitted weights are (1, e^-800) times the
  # true total e^0.5 + 1, so atom 1 carries all of it (mass term 1) and atom
  # 2 none (mass term 1); both locations are exact
  v <- voronoi_loss(far, t_soft)
  expect_equal(as.numeric(v), ((exp(0.5) + 1) - exp(0.5)) + 1, tolerance = 1e-12)
  expect_equal(attr(v, "cells")$fitted_weight, c(exp(0.5) + 1, 0))
  # without alignment the weight e^800 is beyond double precision: Inf, not NaN
  expect_identical(as.numeric(voronoi_loss(far, t_soft, align = "none")), Inf)
  set.seed(71)
  for (i in 1:200) for (g in c("sigmoid", "softmax")) {
    k <- 3
    b0 <- c(runif(2, -1e3, 1e3), if (g == "softmax") 0 else runif(1, -1e3, 1e3))
    b1 <- c(runif(2, -1e3, 1e3), if (g == "softmax") 0 else runif(1, -1e3, 1e3))
    fit <- moe_params(b0, b1, runif(k, -1e3, 1e3), runif(k, -1e3, 1e3), gating = g,
                      expert = "relu")
    truth <- moe_params(c(0.5, 0), c(if (g == "softmax") 3 else 2, 0), c(1, -1), c(0.2, 0.1),
                        gating = g, expert = "relu")
    for (al in c("mass", "none")) expect_false(is.nan(as.numeric(voronoi_loss(fit, truth, align = al))))
  }
})

test_that("losses on no points are errors, not 0", {
  p <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(.2, .2))
  q <- moe_params(c(0, 0), c(1, 1), c(1, 1), c(0, 0))
  expect_error(expert_error(q, p, x = numeric(0)), "`x` must have at least one row")
  expect_error(cell_error(q, p, x = matrix(numeric(0), 0, 1)), "`x` must have at least one row")
})
