# Data-driven starts of the least-squares fit (see ?moe_fit): gates that
# switch along one direction of x, then experts fitted by linear least squares
# given those gates.

# First-order expansion point t0 of each expert: a linear piece alpha'x + beta
# is matched by h(t0) + h'(t0) (a'x + b - t0).
expert_anchor <- function(expert, degree) {
  t0 <- switch(expert, polynomial = 1, 0)
  c(t0 = t0, h0 = expert_eval(t0, expert, degree), h1 = expert_eval(t0, expert, degree, TRUE))
}

# `nstart` starts, numbered from `from` on. `basis` is start_basis() of the
# same arguments, when the caller keeps it (it is made here otherwise).
data_starts <- function(x, y, template, nstart, control, weights = NULL, from = 1L, basis = NULL) {
  if (nstart == 0L) return(list())
  if (is.null(basis)) basis <- start_basis(x, y, control, weights)
  d <- ncol(x); k <- template$k
  xs <- basis$xs; ys <- basis$ys; sw <- basis$sw
  center <- basis$center; scale <- basis$scale; xz <- basis$xz
  # the principal axis is the direction of the first start only
  axis <- if (d > 1L && from == 1L) svd(xz, nu = 0L, nv = 1L)$v[, 1L] else 1
  anchor <- expert_anchor(template$expert, template$degree)
  # start `from` is the first of a sequence: starts 2, 3, ... are random
  lapply(from - 1L + seq_len(nstart), function(s) {
    u <- if (s == 1L) axis else { v <- stats::rnorm(d); v / sqrt(sum(v^2)) }
    levels <- if (s == 1L) (seq_len(k) - 0.5) / k else sort(stats::runif(k))
    gate <- start_gates(xz %*% u, levels, template$gating, k, first = s == 1L)
    # back from the standardised projection p = (x - center)/scale . u to x
    w <- u / scale
    m <- sum(center * w)
    beta1 <- outer(gate$slope, w)
    beta0 <- gate$intercept - gate$slope * m
    if (gate_reference(template$gating, k)) {
      beta0 <- beta0 - beta0[k]
      beta1 <- sweep(beta1, 2L, beta1[k, ])
    }
    p <- template
    p$beta0 <- beta0
    p$beta1[] <- beta1
    g <- model_eval(p, xs, components = TRUE)$gates
    ex <- start_experts(xs, ys, g, template$expert, anchor, sw, outw = !is.null(template$c))
    p$a[] <- ex$a
    p$b <- ex$b
    if (!is.null(template$c)) p$c <- ex$c
    theta <- params_theta(p)
    if (s > 1L && control$jitter > 0) {
      noise <- stats::rnorm(length(theta), 0, control$jitter) * (abs(theta) + 0.1)
      theta <- theta + noise
    }
    theta
  })
}

# The rows the starts are computed on (at most control$start_rows of those
# of positive weight: a random subsample, drawn from R's generator, when
# there are more), and their inputs standardised.
start_basis <- function(x, y, control, weights = NULL) {
  # rows of weight 0 say nothing about the fit, so the starts ignore them too
  use <- if (is.null(weights)) seq_len(nrow(x)) else which(weights > 0)
  n <- length(use)
  rows <- use[if (n > control$start_rows) sort(sample.int(n, control$start_rows)) else seq_len(n)]
  xs <- x[rows, , drop = FALSE]
  center <- colMeans(xs)
  scale <- sqrt(colMeans(sweep(xs, 2L, center)^2))
  scale[!(scale > 0)] <- 1
  list(xs = xs, ys = y[rows], sw = if (is.null(weights)) NULL else sqrt(weights[rows]),
       center = center, scale = scale, xz = sweep(sweep(xs, 2L, center), 2L, scale, "/"))
}

# start_basis() when it draws nothing (all the rows of positive weight are
# used), so that a search can make it once for all its starts; NULL when it
# must draw a subsample for every start.
fixed_start_basis <- function(x, y, control, weights = NULL) {
  n <- if (is.null(weights)) nrow(x) else sum(weights > 0)
  if (n > control$start_rows) NULL else start_basis(x, y, control, weights)
}

# Gate intercepts and slopes on the standardised projection p, cutting p at
# the given quantile levels.
start_gates <- function(p, levels, gating, k, first) {
  p <- drop(p)
  centers <- stats::quantile(p, levels, names = FALSE, type = 7)
  spread <- diff(range(p))
  if (!(spread > 0)) spread <- 1
  if (k == 1L) return(list(slope = 0, intercept = 0))
  gap <- max(spread / k, 1e-8)
  if (gating == "sigmoid") {
    # one global expert, the others switched on past thresholds, alternating
    # sides (random sides after the first start)
    side <- if (first) rep(c(1, -1), length.out = k - 1L) else sample(c(1, -1), k - 1L, TRUE)
    steep <- 4 / gap
    slope <- c(0, side * steep)
    intercept <- c(3, -side * steep * centers[-1L])
    return(list(slope = slope, intercept = intercept))
  }
  # nearest-centre logits: z_i = kappa (c_i p - c_i^2 / 2)
  kappa <- 4 / gap^2
  slope <- kappa * centers
  intercept <- -kappa * centers^2 / 2
  if (gating == "normalized_sigmoid") {
    # sigma(z) ~ exp(z) for z << 0, so shifting every logit down makes the
    # normalized sigmoid close to the softmax partition
    zmax <- max(outer(range(p), slope) + rep(intercept, each = 2L))
    intercept <- intercept - zmax - 3
  }
  list(slope = slope, intercept = intercept)
}

# Experts given the gates: sum_i g_i (alpha_i'x + beta_i) fitted by linear
# least squares, then each piece mapped through the expert's expansion.
start_experts <- function(xs, ys, g, expert, anchor, sw = NULL, outw = FALSE) {
  k <- ncol(g); d <- ncol(xs)
  constant <- expert == "constant"
  blocks <- lapply(seq_len(k), function(i) {
    if (constant) g[, i, drop = FALSE] else cbind(g[, i] * xs, g[, i])
  })
  M <- do.call(cbind, blocks)
  if (!is.null(sw)) {
    # weighted least squares: rows times the square roots of their weights
    M <- M * sw
    ys <- ys * sw
  }
  # a small ridge keeps the solve defined when gates are nearly collinear
  MtM <- crossprod(M)
  ridge <- 1e-8 * max(mean(diag(MtM)), 1e-12)
  coef <- tryCatch(solve(MtM + diag(ridge, ncol(M)), crossprod(M, ys)),
                   error = function(e) rep(0, ncol(M)))
  coef <- matrix(coef, ncol = k)
  if (constant) return(list(a = matrix(0, k, d), b = drop(coef)))
  alpha <- t(coef[seq_len(d), , drop = FALSE])
  beta <- coef[d + 1L, ]
  # with output weights a piece that is mostly negative is carried by c = -1,
  # so that the expert itself starts on its increasing, active side
  cw <- rep(1, k)
  if (outw) {
    for (i in seq_len(k)) if (mean(drop(xs %*% alpha[i, ]) + beta[i]) < 0) cw[i] <- -1
    alpha <- alpha * cw
    beta <- beta * cw
  }
  h1 <- if (abs(anchor[["h1"]]) > 1e-8) anchor[["h1"]] else 1
  a <- alpha / h1
  b <- (beta - anchor[["h0"]]) / h1 + anchor[["t0"]]
  if (expert == "relu") {
    # A relu expert whose line is negative on (nearly) all rows has a zero
    # Jacobian and can never come back; shift it to be active on half of them.
    for (i in seq_len(k)) {
      t <- drop(xs %*% a[i, ]) + b[i]
      if (mean(t > 0) < 0.1) b[i] <- b[i] - stats::median(t)
    }
  }
  list(a = a, b = b, c = cw)
}
