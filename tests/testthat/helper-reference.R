# Independent references shared by the test files (testthat loads helper-*.R
# before the tests): the model's formulas written in plain R from the raw
# parameter values, never from the package's objects or code.

# Gates of an n x k matrix of gate inputs z, as the theory writes them. No
# overflow guards: callers keep |z| moderate.
ref_gates <- function(z, gating) {
  switch(gating,
    sigmoid = 1 / (1 + exp(-z)),
    softmax = exp(z) / rowSums(exp(z)),
    normalized_sigmoid = {
      s <- 1 / (1 + exp(-z))
      s / rowSums(s)
    })
}

# Gates for any |z|, on the log scale: softmax by log-sum-exp, the normalized
# sigmoid from log sigma(z) = plogis(z, log.p = TRUE), which is accurate even
# where sigma(z) underflows.
ref_gates_stable <- function(z, gating) {
  if (gating == "sigmoid") return(stats::plogis(z))
  logits <- if (gating == "softmax") z else stats::plogis(z, log.p = TRUE)
  e <- exp(logits - apply(logits, 1, max))
  e / rowSums(e)
}

# Gate inputs z_i(x) = beta1_i' x + beta0_i, one column per expert.
ref_gate_inputs <- function(beta0, beta1, x) {
  sapply(seq_along(beta0), function(i) beta0[i] + drop(x %*% beta1[i, ]))
}

# h(t) as the theory writes it.
ref_expert <- function(t, expert, degree = NULL) {
  switch(expert,
    linear = t,
    relu = pmax(t, 0),
    gelu = t * stats::pnorm(t),
    sigmoid = 1 / (1 + exp(-t)),
    tanh = tanh(t),
    polynomial = t^degree,
    constant = t)
}

# h'(t) in closed form; relu' is 0 at t = 0.
ref_dexpert <- function(t, expert, degree = NULL) {
  switch(expert,
    linear = rep(1, length(t)),
    relu = as.numeric(t > 0),
    gelu = stats::pnorm(t) + t * stats::dnorm(t),
    sigmoid = { s <- 1 / (1 + exp(-t)); s * (1 - s) },
    tanh = 1 - tanh(t)^2,
    polynomial = degree * t^(degree - 1),
    constant = rep(1, length(t)))
}

# f_G(x) = sum_i g_i(x) h(a_i'x + b_i) (vignette("theory"), section 1).
ref_mean <- function(raw, x, gating, expert, degree = NULL) {
  x <- as.matrix(x)
  k <- length(raw$beta0)
  g <- ref_gates(matrix(ref_gate_inputs(raw$beta0, raw$beta1, x), nrow(x), k), gating)
  h <- sapply(seq_len(k), function(i) {
    t <- if (expert == "constant") rep(raw$b[i], nrow(x)) else raw$b[i] + drop(x %*% raw$a[i, ])
    ref_expert(t, expert, degree)
  })
  h <- matrix(h, nrow(x), k)
  rowSums(g * h)
}

# Whether expert k of a k-expert gate is the reference, whose gate
# parameters are 0 and not in theta: the softmax gate's last expert, and the
# one expert of a normalized sigmoid gate (whose gate is identically 1).
ref_reference <- function(gating, k) {
  gating == "softmax" || (gating == "normalized_sigmoid" && k == 1)
}

# theta -> raw parameters in the order of the contract: expert by expert,
# beta0[i], beta1[i, ] (not for the reference expert), a[i, ] (not for the
# constant expert), b[i].
ref_unpack <- function(theta, k, d, gating, expert) {
  theta <- unname(theta)
  raw <- list(beta0 = numeric(k), beta1 = matrix(0, k, d), a = matrix(0, k, d), b = numeric(k))
  pos <- 0
  for (i in seq_len(k)) {
    if (!(ref_reference(gating, k) && i == k)) {
      raw$beta0[i] <- theta[pos + 1]
      raw$beta1[i, ] <- theta[pos + 1 + seq_len(d)]
      pos <- pos + 1 + d
    }
    if (expert != "constant") {
      raw$a[i, ] <- theta[pos + seq_len(d)]
      pos <- pos + d
    }
    raw$b[i] <- theta[pos + 1]
    pos <- pos + 1
  }
  stopifnot(pos == length(theta))
  raw
}

# Central finite differences of moe_mean in every free parameter.
fd_jacobian <- function(p, x, h = 1e-6) {
  theta <- sigmoe:::params_theta(p)
  J <- sapply(seq_along(theta), function(j) {
    step <- h * max(1, abs(theta[j]))
    up <- theta; up[j] <- up[j] + step
    dn <- theta; dn[j] <- dn[j] - step
    (moe_mean(sigmoe:::theta_params(up, p), x) - moe_mean(sigmoe:::theta_params(dn, p), x)) /
      (2 * step)
  })
  matrix(J, nrow(as.matrix(x)), length(theta))
}

# ---- studies: the R computations that the lean study path replaced --------

# L2(mu) distance between the fitted and the true regression functions on x,
# given the true values f_true = f_{G*}(x) (the study's `l2`, as R computed it).
ref_regression_error <- function(fitp, x, f_true) {
  sqrt(mean((sigmoe:::model_eval(fitp, x) - f_true)^2))
}

# The study's three built-in losses of a fitted measure, as R computed them.
ref_study_losses <- function(fitp, tg, truth_data, x, f_true) {
  c(voronoi = if (is.null(tg)) NA_real_ else as.numeric(sigmoe:::voronoi_compute(fitp, tg)),
    l2 = ref_regression_error(fitp, x, f_true),
    as.numeric(sigmoe:::expert_error_compute(fitp, if (is.null(tg)) truth_data else tg, x)))
}

# The table of starts as moe_fit() built it before it was built directly: a
# data frame per part, row-bound, with the start numbers bound in front.
ref_starts_table <- function(parts) {
  dfs <- lapply(parts, function(p) data.frame(source = p$source, stage = p$stage, sse = p$sse,
                                               code = p$code, converged = p$converged,
                                               iterations = p$iterations, stringsAsFactors = FALSE))
  st <- do.call(rbind, dfs)
  cbind(start = seq_len(nrow(st)), st)
}

# sqrt(mean(v^2)) without overflow or underflow of the squares, in plain R:
# the reference of the fit's column spreads (src/scaling.c).
ref_safe_rms <- function(v) {
  m <- max(abs(v))
  if (!(m > 0) || !is.finite(m)) return(m)
  m * sqrt(mean((v / m)^2))
}
