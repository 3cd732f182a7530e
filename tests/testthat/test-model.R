# The regression function f_G and its Jacobian (R/model.R, src/model.c)
# against plain-R formulas and finite differences.

# Rows of x at which no relu expert is within 1e-4 of its kink.
away_from_kinks <- function(raw, x) {
  if (is.null(raw$a)) return(x)
  t <- sapply(seq_along(raw$b), function(i) raw$b[i] + drop(x %*% raw$a[i, ]))
  x[apply(abs(matrix(t, nrow(x))) > 1e-3, 1, all), , drop = FALSE]
}

# d = 6 takes the dgemm path of src/model.c for the linear predictors; small d
# forms them row by row.
test_that("moe_mean matches the plain-R f_G for every gate x expert, d = 1, 3 and 6", {
  set.seed(301)
  n <- 60; k <- 3
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 3L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- matrix(runif(n * d, -1, 1), n, d)
    f <- moe_mean(p, x)
    expect_true(is.double(f) && is.null(dim(f)) && length(f) == n)
    expect_equal(f, ref_mean(raw, x, gating, cs$expert, cs$degree), tolerance = 1e-13,
                 label = paste("moe_mean:", case_label(gating, cs, d)))
  }
})

test_that("moe_mean is the row sum of gates times experts", {
  set.seed(302)
  for (gating in gatings) {
    raw <- random_raw(4, 2, gating, "gelu")
    p <- as_params(raw, gating, list(expert = "gelu"))
    x <- matrix(runif(40, -1, 1), 20)
    expect_equal(moe_mean(p, x), rowSums(moe_gates(p, x) * moe_experts(p, x)), tolerance = 1e-14)
    comp <- sigmoe:::model_components(p, x)
    expect_identical(comp$f, moe_mean(p, x))
  }
})

test_that("moe_mean and moe_jacobian agree with plain R across the C model's row blocks", {
  # the C code evaluates x in blocks of model_block_rows(n, P) rows; the rows
  # on both sides of every boundary must come out as if evaluated alone
  set.seed(303)
  k <- 3
  for (d in c(3L, 6L)) {
    raw <- random_raw(k, d, "normalized_sigmoid", "relu")
    p <- as_params(raw, "normalized_sigmoid", list(expert = "relu"))
    P <- sigmoe:::n_free_params(k, d, "normalized_sigmoid", "relu")
    check_blocks <- function(n) {
      m <- sigmoe:::model_block_rows(n, P)
      x <- matrix(runif(n * d, -1, 1), n, d)
      expect_equal(moe_mean(p, x), ref_mean(raw, x, "normalized_sigmoid", "relu"), tolerance = 1e-13)
      J <- moe_jacobian(p, x)
      rows <- unique(pmin(c(1, m, m + 1, 2 * m, 2 * m + 1, 3 * m, 3 * m + 1, n), n))
      expect_equal(J[rows, ], moe_jacobian(p, x[rows, ])[, ], tolerance = 1e-15)
    }
    for (blocks in 1:3) {
      # the block size depends on n: settle n = blocks * m(n) + 3
      n <- blocks * 256L + 3L
      for (iter in 1:10) n <- blocks * sigmoe:::model_block_rows(n, P) + 3L
      expect_identical(n, blocks * sigmoe:::model_block_rows(n, P) + 3L)
      check_blocks(n)
    }
    # and many full blocks
    expect_gt(12000L, 3L * sigmoe:::model_block_rows(12000L, P))
    check_blocks(12000L)
  }
})

test_that("the C model gives identical numbers with 1 and 2 threads", {
  set.seed(304)
  k <- 3; n <- 3000
  for (gating in gatings) for (d in c(2L, 6L)) {
    raw <- random_raw(k, d, gating, "gelu")
    p <- as_params(raw, gating, list(expert = "gelu"))
    x <- matrix(runif(n * d, -1, 1), n, d)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    expect_identical(.Call(sigmoe:::C_model_eval, spec, theta, x, TRUE, 1L),
                     .Call(sigmoe:::C_model_eval, spec, theta, x, TRUE, 2L))
    expect_identical(.Call(sigmoe:::C_model_jacobian, spec, theta, x, 1L),
                     .Call(sigmoe:::C_model_jacobian, spec, theta, x, 2L))
  }
})


test_that("the SSE of a pass does not depend on whether derivatives are computed", {
  # A Levenberg-Marquardt trial step is judged by the SSE-only pass and then
  # continued from the full pass at the same point: both must see the same f.
  set.seed(305)
  k <- 3; n <- 3000
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- matrix(runif(n * d, -1, 1), n, d)
    y <- moe_mean(p, x) + rnorm(n)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    sse <- .Call(sigmoe:::C_model_sse, spec, theta, x, y, 1L)
    full <- .Call(sigmoe:::C_model_crossprod, spec, theta, x, y, 1L)
    expect_identical(sse, full$sse, label = case_label(gating, cs, d))
    expect_equal(sse, sum((y - moe_mean(p, x))^2), tolerance = 1e-12,
                 label = case_label(gating, cs, d))
    if (gating == "sigmoid") {
      # the Jacobian's beta0 columns are g (1 - g) h, with h from the
      # derivative path; the same product from gates and experts evaluated
      # without derivatives must agree to the last bit
      J <- moe_jacobian(p, x)
      G <- moe_gates(p, x)
      H <- moe_experts(p, x)
      for (i in seq_len(k))
        expect_identical(unname(J[, sprintf("beta0[%d]", i)]), unname(G[, i] * (1 - G[, i]) * H[, i]),
                         label = sprintf("%s, beta0[%d] column", case_label(gating, cs, d), i))
    }
  }
})
test_that("moe_jacobian matches central finite differences for every gate x expert", {
  set.seed(305)
  n <- 30; k <- 3
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 3L, 6L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- away_from_kinks(raw, matrix(runif(3 * n * d, -1, 1), 3 * n, d))
    expect_gte(nrow(x), n)
    x <- x[seq_len(n), , drop = FALSE]
    if (cs$expert == "relu") {
      t <- sapply(1:k, function(i) raw$b[i] + drop(x %*% raw$a[i, ]))
      expect_false(any(abs(t) < 1e-4))
    }
    J <- moe_jacobian(p, x)
    P <- sigmoe:::n_free_params(k, d, gating, cs$expert)
    expect_identical(dim(J), c(as.integer(n), as.integer(P)))
    expect_identical(colnames(J), names(sigmoe:::params_theta(p)))
    expect_identical(attr(J, "coef"), colnames(J))
    Jfd <- fd_jacobian(p, x)
    err <- max(abs(J - Jfd) / pmax(1, abs(Jfd)))
    expect_lt(err, 1e-5, label = paste("Jacobian error:", case_label(gating, cs, d)))
  }
})

test_that("the Jacobian follows its closed form (sigmoid gate)", {
  # d f / d beta0_i = s_i (1 - s_i) h_i,  d f / d b_i = s_i h'(t_i)
  x <- c(-0.8, -0.1, 0.6)
  p <- moe_params(beta0 = c(0.3, -0.4), beta1 = c(1.5, -2), a = c(1, -0.5), b = c(0.2, 0.1),
                  expert = "tanh")
  s <- cbind(stats::plogis(0.3 + 1.5 * x), stats::plogis(-0.4 - 2 * x))
  t <- cbind(0.2 + x, 0.1 - 0.5 * x)
  J <- moe_jacobian(p, x)
  expect_equal(J[, "beta0[1]"], s[, 1] * (1 - s[, 1]) * tanh(t[, 1]))
  expect_equal(J[, "beta1[2,1]"], s[, 2] * (1 - s[, 2]) * tanh(t[, 2]) * x)
  expect_equal(J[, "b[2]"], s[, 2] * (1 - tanh(t[, 2])^2))
  expect_equal(J[, "a[1,1]"], s[, 1] * (1 - tanh(t[, 1])^2) * x)
})

test_that("the Jacobian follows its closed form (softmax gate)", {
  # d f / d beta0_l = pi_l (h_l - f)
  x <- c(-0.8, -0.1, 0.6)
  p <- moe_params(beta0 = c(0.3, -0.4, 0), beta1 = c(1.5, -2, 0), a = c(1, -0.5, 2),
                  b = c(0.2, 0.1, -0.3), gating = "softmax", expert = "linear")
  z <- cbind(0.3 + 1.5 * x, -0.4 - 2 * x, 0)
  pi <- exp(z) / rowSums(exp(z))
  h <- cbind(0.2 + x, 0.1 - 0.5 * x, -0.3 + 2 * x)
  f <- rowSums(pi * h)
  J <- moe_jacobian(p, x)
  expect_identical(colnames(J), c("beta0[1]", "beta1[1,1]", "a[1,1]", "b[1]", "beta0[2]",
                                  "beta1[2,1]", "a[2,1]", "b[2]", "a[3,1]", "b[3]"))
  expect_equal(J[, "beta0[2]"], pi[, 2] * (h[, 2] - f))
  expect_equal(J[, "beta1[1,1]"], pi[, 1] * (h[, 1] - f) * x)
  expect_equal(J[, "b[3]"], pi[, 3])
})

test_that("the constant expert's Jacobian has one column per expert for b and no a", {
  p <- moe_params(beta0 = c(0.5, 0), beta1 = matrix(c(1, 0, -1, 0), 2), b = c(1, -1),
                  gating = "softmax", expert = "constant")
  J <- moe_jacobian(p, matrix(c(0.1, 0.2, 0.3, 0.4), 2))
  expect_identical(colnames(J), c("beta0[1]", "beta1[1,1]", "beta1[1,2]", "b[1]", "b[2]"))
  expect_equal(J[, "b[1]"] + J[, "b[2]"], c(1, 1))
})

test_that("moe_mean and moe_jacobian handle zero rows and validate their arguments", {
  p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, 1), b = c(0, 0))
  expect_identical(moe_mean(p, numeric(0)), numeric(0))
  expect_identical(dim(moe_jacobian(p, numeric(0))), c(0L, 8L))
  expect_error(moe_mean(p, matrix(0, 3, 2)), "`x` must have d = 1 column")
  expect_error(moe_mean(p, c(1, NA)), "`x`.*element 2 is NA")
  expect_error(moe_mean(p, c(1, Inf)), "`x`")
  expect_error(moe_mean(p, "a"), "`x`")
  expect_error(moe_mean(p, data.frame(x = "a")), "`x` must have only numeric columns")
  expect_error(moe_mean(list(), 1), "`params` must be a `moe_params` object")
  expect_error(moe_jacobian(p, matrix(0, 3, 2)), "`x`")
  expect_error(moe_jacobian(unclass(p), 1), "`params`")
  expect_error(moe_experts(p, c(NaN)), "`x`")
})

test_that("output weights: f, the expert outputs and the Jacobian against plain R and finite differences", {
  set.seed(311)
  n <- 80; k <- 3
  for (gating in c("sigmoid", "softmax", "normalized_sigmoid"))
    for (cs in list(list(expert = "relu"), list(expert = "gelu"), list(expert = "sigmoid"),
                    list(expert = "tanh"), list(expert = "polynomial", degree = 3L)))
      for (d in c(1L, 6L)) {
        raw <- list(beta0 = rnorm(k), beta1 = matrix(rnorm(k * d, sd = 1.5), k, d),
                    a = matrix(rnorm(k * d), k, d), b = rnorm(k, sd = 0.5), c = rnorm(k, sd = 2))
        if (ref_reference(gating, k)) { raw$beta0[k] <- 0; raw$beta1[k, ] <- 0 }
        p <- moe_params(raw$beta0, raw$beta1, raw$a, raw$b, gating = gating, expert = cs$expert,
                        degree = cs$degree, c = raw$c)
        x <- matrix(runif(n * d, -1, 1), n, d)
        label <- sprintf("%s gate, %s experts with output weights, d = %d", gating, cs$expert, d)
        # independent: c_i times the plain-R expert, through ref_mean with one
        # expert at a time
        h <- sapply(seq_len(k), function(i) {
          one <- raw; one$beta0 <- 0; one$beta1 <- matrix(0, 1, d); one$a <- raw$a[i, , drop = FALSE]
          one$b <- raw$b[i]
          raw$c[i] * ref_mean(one, x, "softmax", cs$expert, cs$degree)
        })
        expect_equal(moe_experts(p, x), h, tolerance = 1e-12, ignore_attr = TRUE, label = label)
        expect_equal(moe_mean(p, x), rowSums(moe_gates(p, x) * h), tolerance = 1e-12, label = label)
        th <- sigmoe:::params_theta(p)
        expect_identical(utils::tail(names(th), 1L), sprintf("c[%d]", k))
        fd <- sapply(seq_along(th), function(j) {
          e <- 1e-6 * max(1, abs(th[j])); up <- th; dn <- th
          up[j] <- up[j] + e; dn[j] <- dn[j] - e
          (moe_mean(sigmoe:::theta_params(up, p), x) - moe_mean(sigmoe:::theta_params(dn, p), x)) / (2 * e)
        })
        J <- moe_jacobian(p, x)
        ok <- if (cs$expert == "relu") apply(abs(sapply(seq_len(k), function(i) x %*% raw$a[i, ] + raw$b[i])) > 1e-3, 1, all)
              else rep(TRUE, n)
        expect_equal(unname(J[ok, ]), unname(fd[ok, ]), tolerance = 1e-6, label = label)
      }
})

test_that("adapters refuse what the kernels cannot take, and block sizes never overflow", {
  expect_error(.Call(sigmoe:::C_gate_eval, 2L, matrix(0, 10, 0)), "at least one column")
  expect_error(.Call(sigmoe:::C_gate_eval, 3L, matrix(0, 10, 0)), "at least one column")
  expect_identical(sigmoe:::model_block_rows(.Machine$integer.max, 1L), 16384L)
  expect_identical(sigmoe:::model_block_rows(.Machine$integer.max - 3L, 12L), as.integer(2^14 %/% 12))
})

test_that("the acceleration's J'fvv is the finite-difference formula on plain-R f and J", {
  # fvv = (2/h) ((f(theta + h v) - f(theta)) / h - J v), J'fvv with the rows
  # of J and fvv weighted by sqrt(w); f from the plain-R reference, J the
  # full Jacobian (checked against finite differences above; the finite
  # differences themselves are off at the kinks of ReLU)
  set.seed(311)
  k <- 3; n <- 700; h <- 0.1
  for (gating in gatings) for (cs in expert_cases) for (d in c(1L, 3L)) {
    raw <- random_raw(k, d, gating, cs$expert)
    p <- as_params(raw, gating, cs)
    x <- matrix(runif(n * d, -1, 1), n, d)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    v <- rnorm(length(theta), sd = 0.3)
    f_at <- function(th) ref_mean(ref_unpack(th, k, d, gating, cs$expert), x, gating,
                                  cs$expert, cs$degree)
    J <- moe_jacobian(p, x)
    fvv <- 2 / h * ((f_at(theta + h * v) - f_at(theta)) / h - drop(J %*% v))
    sw <- sqrt(rexp(n))
    for (w in list(NULL, sw)) {
      ref <- unname(if (is.null(w)) drop(crossprod(J, fvv)) else drop(crossprod(J * w, fvv * w)))
      got <- .Call(sigmoe:::C_model_dir2, spec, theta, x, v, h, w, 1L)
      expect_equal(got, ref, tolerance = 1e-9,
                   label = paste(case_label(gating, cs, d), if (is.null(w)) "" else "weighted"))
      expect_identical(.Call(sigmoe:::C_model_dir2, spec, theta, x, v, h, w, 2L), got)
    }
  }
})

test_that("a pass's J'J and J'r are the Gram matrix of [J r], summed in the documented order", {
  # src/gram.c sums each entry over rows r in lanes r mod 8, adds the lanes in
  # order and then the rows past the last whole group of eight. Within one
  # block (n <= 256 rows is one block) that order is reproduced here in plain
  # R, whose double arithmetic has neither fused multiply-adds nor extended
  # precision in `+`, so the pass must agree to the last bit: the order is
  # what makes every clone of the kernel return the same bits.
  lane_dot <- function(a, b) {
    m <- length(a); whole <- m - m %% 8
    lanes <- numeric(8)
    r <- 0
    while (r < whole) {
      for (l in 1:8) lanes[l] <- lanes[l] + a[r + l] * b[r + l]
      r <- r + 8
    }
    s <- lanes[1]
    for (l in 2:8) s <- s + lanes[l]
    if (whole < m) for (i in (whole + 1):m) s <- s + a[i] * b[i]
    s
  }
  set.seed(309)
  # P = 6 to 18 columns of J, so that P + 1 covers every remainder modulo the
  # tile of 4; n from 3 rows (no whole group of lanes) to 256 (one block)
  cases <- list(list(k = 2, d = 1, gating = "softmax", expert = "linear", n = 3L),
                list(k = 2, d = 1, gating = "sigmoid", expert = "linear", n = 8L),
                list(k = 3, d = 1, gating = "softmax", expert = "relu", n = 61L),
                list(k = 3, d = 1, gating = "sigmoid", expert = "gelu", n = 203L),
                list(k = 3, d = 2, gating = "sigmoid", expert = "linear", n = 100L),
                list(k = 4, d = 1, gating = "softmax", expert = "tanh", n = 77L),
                list(k = 3, d = 1, gating = "softmax", expert = "constant", n = 130L),
                list(k = 3, d = 1, gating = "sigmoid", expert = "constant", n = 256L))
  seen_q <- integer()
  for (cs in cases) {
    ec <- Find(function(e) e$expert == cs$expert, expert_cases)
    raw <- random_raw(cs$k, cs$d, cs$gating, cs$expert)
    p <- as_params(raw, cs$gating, ec)
    x <- matrix(runif(cs$n * cs$d, -1, 1), cs$n, cs$d)
    y <- moe_mean(p, x) + rnorm(cs$n)
    spec <- sigmoe:::params_spec(p)
    theta <- sigmoe:::params_theta(p)
    J <- unname(moe_jacobian(p, x))
    r <- y - moe_mean(p, x)
    P <- ncol(J)
    seen_q <- c(seen_q, (P + 1) %% 4)
    ne <- .Call(sigmoe:::C_model_crossprod, spec, theta, x, y, 1L)
    A <- matrix(0, P, P)
    for (j in seq_len(P)) for (i in seq_len(j)) A[i, j] <- A[j, i] <- lane_dot(J[, i], J[, j])
    g <- vapply(seq_len(P), function(j) lane_dot(J[, j], r), 0)
    label <- sprintf("%s gate, %s experts, k = %d, d = %d, n = %d", cs$gating, cs$expert, cs$k,
                     cs$d, cs$n)
    expect_identical(ne$jtj, A, label = label)
    expect_identical(ne$jtr, g, label = label)
    # and, independently of the order, the products of R's BLAS
    expect_equal(ne$jtj, crossprod(J), tolerance = 1e-13, label = label)
    expect_equal(ne$jtr, drop(crossprod(J, r)), tolerance = 1e-13, label = label)
  }
  expect_setequal(seen_q, 0:3)
})

test_that("over many blocks and with weights, a pass's J'J and J'r equal crossprod() of J", {
  set.seed(310)
  for (cs in list(list(k = 3, d = 1, gating = "sigmoid", expert = "linear", n = 40001L),
                  list(k = 5, d = 3, gating = "softmax", expert = "relu", n = 20003L))) {
    ec <- Find(function(e) e$expert == cs$expert, expert_cases)
    raw <- random_raw(cs$k, cs$d, cs$gating, cs$expert)
    p <- as_params(raw, cs$gating, ec)
    x <- matrix(runif(cs$n * cs$d, -1, 1), cs$n, cs$d)
    y <- moe_mean(p, x) + rnorm(cs$n)
    w <- runif(cs$n, 0.5, 2)
    J <- unname(moe_jacobian(p, x))
    r <- y - moe_mean(p, x)
    ctl <- sigmoe:::lsq_control_vector(moe_control())
    ctl[["maxit"]] <- 0 # the start's normal equations, no step
    run <- .Call(sigmoe:::C_lsq_fit, sigmoe:::params_spec(p), sigmoe:::params_theta(p), x, y,
                 ctl, NULL, NULL, sqrt(w))
    expect_equal(run$sse, sum(w * r^2), tolerance = 1e-12)
    expect_equal(run$jtj, crossprod(J * sqrt(w)), tolerance = 1e-12)
    expect_equal(run$jtr, drop(crossprod(J * w, r)), tolerance = 1e-12)
  }
})
