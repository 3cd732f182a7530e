# The truth of a study in each fitted gate's parameterisation, and the starts
# of its fits that represent it with k atoms: with k > k* the surplus atoms
# can enter as split copies, as dead copies or as scaled copies (see
# ?convergence_study, vignette("theory", package = "sigmoe") and
# arXiv:2405.13997). Which of them reproduces the truth's regression function
# depends on the gate, the expert and the true gating slopes, and decides
# which minimiser a local search ends near.

surplus_types <- c("split", "dead", "scaled")

# A dead copy's gate is sigma(-dead_margin) ~ 3.4e-4 at most on the support
# (sigmoid gates), or e^-dead_margin times its atom's (softmax): small enough
# that the copy is invisible at the noise levels of a study, large enough
# that the gradient does not vanish and a fit can still revive the copy.
dead_margin <- 8

# Experts h with h(c t) = c h(t) for c > 0 (or c h(t) = h(c^(1/p) t)): a
# fraction of them is again an expert of the same type.
homogeneous_experts <- c("linear", "relu", "polynomial", "constant")

# The truth's atoms with another expert type.
truth_with_expert <- function(truth, expert, degree) {
  if (identical(expert, truth$expert) && (expert != "polynomial" || identical(degree, truth$degree)))
    return(truth)
  if (expert == "constant" && any(truth$a != 0))
    stop(paste0("`expert` includes \"constant\" but the truth's experts have non-zero slopes `a`; ",
                "the constant expert ignores x. Give a truth with a = 0."), call. = FALSE)
  moe_params(beta0 = truth$beta0, beta1 = truth$beta1,
             a = if (expert == "constant") NULL else truth$a, b = truth$b,
             gating = truth$gating, expert = expert,
             degree = if (expert == "polynomial") degree else NULL)
}

# The truth in the parameterisation of gate g, or NULL when no model with
# that gate equals it. Since sigma(z) + sigma(-z) = 1, three families
# coincide:
# - two experts: softmax logits (z, 0), sigmoid gates with logits (z, -z),
#   and normalized sigmoid gates with logits (z, -z) all give the gates
#   sigma(z) and sigma(-z);
# - one expert: the softmax and normalized sigmoid gates are identically 1.
# No other pair of gates shares a model.
truth_for_gate <- function(truth, g) {
  if (identical(truth$gating, g)) return(truth)
  d <- truth$d
  make <- function(beta0, beta1)
    moe_params(beta0 = beta0, beta1 = beta1, a = if (truth$expert == "constant") NULL else truth$a,
               b = truth$b, gating = g, expert = truth$expert, degree = truth$degree)
  normalised <- c("softmax", "normalized_sigmoid")
  if (truth$k == 1L)
    return(if (truth$gating %in% normalised && g %in% normalised) make(0, matrix(0, 1L, d)))
  if (truth$k != 2L) return(NULL)
  # the logit z of the first gate, when the pair of gates is (sigma(z), sigma(-z))
  z0 <- truth$beta0[1L]
  z1 <- truth$beta1[1L, ]
  if (truth$gating != "softmax") {
    tol <- 1e-12 * max(1, abs(truth$beta0), abs(truth$beta1))
    opposite <- abs(truth$beta0[1L] + truth$beta0[2L]) <= tol &&
      all(abs(truth$beta1[1L, ] + truth$beta1[2L, ]) <= tol)
    if (!opposite) return(NULL)
  }
  if (g == "softmax") make(c(z0, 0), rbind(z1, 0, deparse.level = 0))
  else make(c(z0, -z0), rbind(z1, -z1, deparse.level = 0))
}

# Whether every split true atom has gating slope zero in this gate's
# parameterisation: the condition under which split copies of a sigmoid gate
# add up to the atom's gate.
split_zero_slope <- function(truth, split) all(truth$beta1[unique(split), ] == 0)

# How a representation reproduces the truth's regression function: "exact",
# "limit" (as dead_margin grows) or "no".
surplus_exactness <- function(surplus, gating, expert, zero_slope) {
  switch(surplus,
         split = if (gating == "softmax" || zero_slope) "exact" else "no",
         dead = "limit",
         scaled = if (gating == "sigmoid" && expert %in% homogeneous_experts) "exact" else "no")
}

# The representations a global search starts from: every one that is exact
# or exact in the limit for this gate, expert and truth.
surplus_applicable <- function(gating, expert, zero_slope) {
  surplus_types[vapply(surplus_types, function(s)
    surplus_exactness(s, gating, expert, zero_slope) != "no", logical(1))]
}

# The default: split where it is exact, dead elsewhere.
surplus_default <- function(gating, zero_slope) {
  if (gating == "softmax" || zero_slope) "split" else "dead"
}

# The `surplus` argument of convergence_study() resolved to one
# representation per gate (near-truth starts), or to the set every global
# search runs; NA for gates without representation starts.
check_study_surplus <- function(surplus, init, k, kt, gating, expert, truths, misspecified, split) {
  choices <- paste0("\"", surplus_types, "\"", collapse = ", ")
  out <- stats::setNames(rep(NA_character_, length(gating)), gating)
  if (!is.null(surplus)) {
    if (!is.character(surplus) || length(surplus) < 1L || anyNA(surplus))
      abort_arg("surplus", sprintf("NULL, one of %s, or such names by gate", choices), surplus)
    if (k <= kt)
      stop(sprintf("`surplus` is only used when k > k* (k = %d, k* = %d); leave it NULL.", k, kt),
           call. = FALSE)
    if (init != "near_truth")
      stop(sprintf(paste0("`surplus` is only used with init = \"near_truth\"; leave it NULL with ",
                          "init = \"%s\"%s."), init,
                   if (init == "global") ", which starts from every applicable representation" else ""),
           call. = FALSE)
    nm <- names(surplus)
    if (length(surplus) > 1L || !is.null(nm)) {
      if (is.null(nm) || any(!nzchar(nm)) || anyDuplicated(nm) || !all(nm %in% gating))
        stop(sprintf(paste0("`surplus` must be one of %s, or a vector of them named by the ",
                            "study's gates (%s)."), choices, paste0("\"", gating, "\"", collapse = ", ")),
             call. = FALSE)
    } else {
      surplus <- stats::setNames(rep(surplus, length(gating)), gating)
    }
    for (g in names(surplus)) {
      if (!surplus[[g]] %in% surplus_types)
        stop(sprintf("`surplus` must be one of %s, not \"%s\".", choices, surplus[[g]]), call. = FALSE)
    }
  }
  if (k <= kt || init == "multistart") return(out)
  for (g in gating[!misspecified[gating]]) {
    zero <- split_zero_slope(truths[[1L]]$fit[[g]], split)
    if (init == "global") {
      reps <- unique(unlist(lapply(expert, surplus_applicable, gating = g, zero_slope = zero)))
      out[[g]] <- paste(surplus_types[surplus_types %in% reps], collapse = "+")
      next
    }
    s <- if (g %in% names(surplus)) surplus[[g]] else surplus_default(g, zero)
    if (s == "scaled") {
      if (g != "sigmoid")
        stop(sprintf(paste0("`surplus` = \"scaled\" reproduces the truth only under the sigmoid gate ",
                            "(the %s gate renormalises the copies); choose \"split\" or \"dead\" for it, ",
                            "e.g. surplus = c(sigmoid = \"scaled\", %s = \"dead\")."),
                     sub("_", " ", g), g), call. = FALSE)
      bad <- setdiff(expert, homogeneous_experts)
      if (length(bad))
        stop(sprintf(paste0("`surplus` = \"scaled\" reproduces the truth only for linear, ReLU, ",
                            "polynomial and constant experts, not \"%s\"."), bad[1L]), call. = FALSE)
    }
    out[[g]] <- s
  }
  out
}

# How many fitted atoms each of the kt true atoms gets: one, plus one for
# every surplus atom that `split` sends to it.
atom_copies <- function(kt, split) {
  1L + if (length(split)) tabulate(split, nbins = kt) else integer(kt)
}

# A start of k atoms for the truth, without noise: the truth itself (k =
# k*), its k heaviest atoms (k < k*), or, with k > k*, the truth with the
# surplus atoms of representation `surplus`, true atom j taking m_j copies
# (`split` lists the atom each surplus atom copies):
#   split:  m_j copies of weight w*_j / m_j;
#   dead:   the atom itself (the last copy of its group) and m_j - 1 copies
#           whose gate is switched off on the rows of x;
#   scaled: m_j copies with the atom's gate, each carrying a fraction of its
#           expert (`fractions`, one per atom, adding up to 1 within each
#           group; default 1 / m_j).
# The softmax start is re-expressed relative to its last atom, and so is the
# one atom of a normalized sigmoid start (its logit becomes 0); neither
# changes the model.
surplus_start <- function(truth, k, split, surplus = "split", x = NULL, fractions = NULL) {
  kt <- truth$k
  if (k >= kt) {
    copies <- atom_copies(kt, if (k > kt) split)
    idx <- rep(seq_len(kt), copies)
    m <- copies[idx]
  } else {
    w <- atom_weights(truth)
    idx <- sort(order(-w, seq_len(kt))[seq_len(k)])
    m <- rep(1L, k)
    surplus <- "split"
  }
  beta0 <- truth$beta0[idx]
  beta1 <- truth$beta1[idx, , drop = FALSE]
  a <- truth$a[idx, , drop = FALSE]
  b <- truth$b[idx]
  softmax <- truth$gating == "softmax"
  if (surplus == "split") {
    beta0 <- if (softmax) beta0 - log(m) else stats::qlogis(stats::plogis(beta0) / m)
  } else if (surplus == "dead") {
    dead <- sequence(copies) < m
    if (softmax) {
      beta0[dead] <- beta0[dead] - dead_margin
    } else if (any(dead)) {
      reach <- apply(abs(x %*% t(beta1[dead, , drop = FALSE])), 2L, max)
      beta0[dead] <- -(dead_margin + reach)
    }
  } else {
    frac <- if (is.null(fractions)) 1 / m else fractions
    if (truth$expert == "polynomial") frac <- frac^(1 / truth$degree)
    a <- a * frac
    b <- b * frac
  }
  # relative to the reference atom (gate_reference()), as data_starts()
  # re-expresses its starts: the softmax gate's last atom, or the one atom of
  # a normalized sigmoid gate, whose logit becomes 0
  if (gate_reference(truth$gating, k)) {
    beta0 <- beta0 - beta0[k]
    beta1 <- sweep(beta1, 2L, beta1[k, ])
  }
  moe_params(beta0 = beta0, beta1 = beta1, a = if (truth$expert == "constant") NULL else a,
             b = b, gating = truth$gating, expert = truth$expert, degree = truth$degree)
}

# The representation starts of gate g for one expert type, without noise,
# named by representation ("truth" when k <= k*); none for a gate that is
# misspecified or fitted from data-driven starts only.
study_gate_starts <- function(setup, expert, g) {
  tg <- setup$truths[[expert]]$fit[[g]]
  if (is.null(tg) || setup$init == "multistart") return(list())
  if (setup$k <= tg$k) return(list(truth = surplus_start(tg, setup$k, setup$split)))
  kinds <- if (setup$init == "global")
    surplus_applicable(g, expert, split_zero_slope(tg, setup$split))
  else setup$surplus[[g]]
  stats::setNames(lapply(kinds, function(s) surplus_start(tg, setup$k, setup$split, s, setup$x_eval)),
                  kinds)
}

# Independent Gaussian noise of sd `init_sd` on every free parameter of a
# start, drawn from R's generator, then the start moved back into the box.
noisy_start <- function(p, init_sd, lower = -Inf, upper = Inf) {
  if (init_sd <= 0) return(p)
  theta_params(noisy_theta(params_theta(p), init_sd, box_theta(lower, upper, p)), p)
}

# The same noise on theta, with the box as box_theta() gives it.
noisy_theta <- function(theta, init_sd, box) {
  if (init_sd <= 0) return(theta)
  box_project(theta + stats::rnorm(length(theta), 0, init_sd), box)
}
