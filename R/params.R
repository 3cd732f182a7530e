# The mixing-measure object: k atoms (gating intercept beta0_i, gating slope
# beta1_i, expert parameters eta_i = (a_i, b_i)) with the gate and the expert.

gating_types <- c("sigmoid", "softmax", "normalized_sigmoid")
expert_types <- c("linear", "relu", "gelu", "sigmoid", "tanh", "polynomial", "constant")

# Codes shared with src/sigmoe.h.
gating_code <- function(gating) match(gating, gating_types)
expert_code <- function(expert) match(expert, expert_types)

as_param_matrix <- function(v, k, arg) {
  if (is.data.frame(v)) v <- as.matrix(v)
  if (is.null(dim(v))) {
    if (!is.numeric(v) || length(v) != k)
      abort_arg(arg, sprintf("a numeric matrix with %d rows (or a vector of length %d when d = 1)", k, k), v)
    v <- matrix(v, nrow = k)
  }
  if (!is.numeric(v) || !is.matrix(v) || nrow(v) != k || ncol(v) < 1L)
    abort_arg(arg, sprintf("a numeric matrix with k = %d rows (one per expert)", k), v)
  storage.mode(v) <- "double"
  if (!all(is.finite(v))) stop(sprintf("`%s` must contain only finite values.", arg), call. = FALSE)
  v
}

#' Mixing measures: the parameters of a mixture of experts
#'
#' `moe_params()` builds and validates the parameters of a k-expert model
#' \deqn{f_G(x) = \sum_{i=1}^k g_i(x) h(a_i^\top x + b_i)}{f_G(x) = sum_i g_i(x) h(a_i'x + b_i)}
#' whose gates \eqn{g_i} depend on \eqn{z_i(x) = \beta_{1i}^\top x + \beta_{0i}}{z_i(x) = beta1_i'x + beta0_i}.
#' In the language of the theory this is a mixing measure with k atoms
#' \eqn{(\beta_{1i}, a_i, b_i)} and weights \eqn{\sigma(\beta_{0i})} (sigmoid
#' gate) or \eqn{\exp(\beta_{0i})} (softmax gate).
#'
#' Gates:
#' * `"sigmoid"`: \eqn{g_i = 1 / (1 + e^{-z_i})}; each expert is gated on its
#'   own and the gates need not sum to one.
#' * `"softmax"`: \eqn{g_i = e^{z_i} / \sum_j e^{z_j}}. Expert k is the
#'   reference: `beta0[k]` and `beta1[k, ]` must be 0 and stay fixed in a fit.
#' * `"normalized_sigmoid"`: \eqn{g_i = \sigma(z_i) / \sum_j \sigma(z_j)}.
#'
#' Experts, with \eqn{t = a^\top x + b}: `"linear"` t, `"relu"` max(t, 0),
#' `"gelu"` \eqn{t \Phi(t)}, `"sigmoid"` \eqn{1/(1+e^{-t})}, `"tanh"`,
#' `"polynomial"` \eqn{t^p} with `degree = p`, and `"constant"` h = b (the
#' expert ignores x and `a` is zero).
#'
#' @param beta0 Gating intercepts, a numeric vector of length k.
#' @param beta1 Gating slopes, a k x d matrix (a vector of length k when d = 1).
#' @param a Expert slopes, a k x d matrix (a vector when d = 1). May be `NULL`
#'   for the constant expert.
#' @param b Expert intercepts, a numeric vector of length k.
#' @param gating One of `"sigmoid"`, `"softmax"`, `"normalized_sigmoid"`.
#' @param expert One of `"linear"`, `"relu"`, `"gelu"`, `"sigmoid"`, `"tanh"`,
#'   `"polynomial"`, `"constant"`.
#' @param degree The power p of the polynomial expert, a whole number >= 1;
#'   ignored by the other experts.
#' @returns An object of class `moe_params`: a list with `beta0`, `beta1`, `a`,
#'   `b`, `gating`, `expert`, `degree`, `k` and `d`.
#' @seealso [moe_mean()], [moe_simulate()], [moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                     b = c(0.5, 0), gating = "sigmoid", expert = "relu")
#' truth
#' moe_mean(truth, c(-0.5, 0, 0.5))
#' @export
moe_params <- function(beta0, beta1, a = NULL, b, gating = "sigmoid",
                       expert = "relu", degree = NULL) {
  gating <- check_choice(gating, gating_types, "gating")
  expert <- check_choice(expert, expert_types, "expert")
  if (!is.numeric(beta0) || length(beta0) < 1L || !is.null(dim(beta0)) && min(dim(beta0)) > 1L)
    abort_arg("beta0", "a numeric vector with one gating intercept per expert", beta0)
  beta0 <- as.double(beta0)
  if (!all(is.finite(beta0))) stop("`beta0` must contain only finite values.", call. = FALSE)
  k <- length(beta0)
  beta1 <- as_param_matrix(beta1, k, "beta1")
  d <- ncol(beta1)
  if (expert == "constant" && is.null(a)) a <- matrix(0, k, d)
  a <- as_param_matrix(a, k, "a")
  if (ncol(a) != d)
    stop(sprintf("`a` must have as many columns as `beta1` (d = %d), not %d.", d, ncol(a)), call. = FALSE)
  if (expert == "constant" && any(a != 0))
    stop("`a` must be NULL or zero for the constant expert, which ignores x.", call. = FALSE)
  if (!is.numeric(b) || length(b) != k)
    abort_arg("b", sprintf("a numeric vector of length k = %d", k), b)
  b <- as.double(b)
  if (!all(is.finite(b))) stop("`b` must contain only finite values.", call. = FALSE)
  if (expert == "polynomial") {
    if (is.null(degree)) stop("`degree` must be given for the polynomial expert.", call. = FALSE)
    degree <- check_whole(degree, "degree", min = 1)
  } else {
    degree <- NULL
  }
  if (gating == "softmax" && (beta0[k] != 0 || any(beta1[k, ] != 0)))
    stop(sprintf(paste0("For the softmax gate expert k = %d is the reference: `beta0[%d]` and ",
                        "`beta1[%d, ]` must be 0, not %s and (%s)."), k, k, k,
                 format(beta0[k]), paste(format(beta1[k, ]), collapse = ", ")), call. = FALSE)
  if (is.null(colnames(beta1))) colnames(beta1) <- if (!is.null(colnames(a))) colnames(a) else paste0("x", seq_len(d))
  colnames(a) <- colnames(beta1)
  rownames(beta1) <- rownames(a) <- NULL
  structure(list(beta0 = beta0, beta1 = beta1, a = a, b = b, gating = gating,
                 expert = expert, degree = degree, k = k, d = d),
            class = "moe_params")
}

#' @export
print.moe_params <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  ex <- if (x$expert == "polynomial") sprintf("polynomial (degree %d)", x$degree) else x$expert
  cat(sprintf("Mixture of experts: %d %s expert%s, %s gate, d = %d\n", x$k, ex,
              if (x$k == 1L) "" else "s", sub("_", " ", x$gating), x$d))
  print(params_table(x), digits = digits)
  if (x$gating == "softmax") cat("(expert ", x$k, " is the softmax reference)\n", sep = "")
  invisible(x)
}

# One row per atom: weight, beta0, beta1, a, b.
params_table <- function(p) {
  vars <- colnames(p$beta1)
  tab <- data.frame(weight = atom_weights(p), beta0 = p$beta0)
  for (j in seq_len(p$d)) tab[[paste0("beta1.", vars[j])]] <- p$beta1[, j]
  if (p$expert != "constant") for (j in seq_len(p$d)) tab[[paste0("a.", vars[j])]] <- p$a[, j]
  tab$b <- p$b
  rownames(tab) <- paste("expert", seq_len(p$k))
  tab
}

# Atom weights of the mixing measure: sigma(beta0) for sigmoid-type gates,
# exp(beta0) for softmax (SPEC section 3).
atom_weights <- function(p) {
  if (p$gating == "softmax") exp(p$beta0) else stats::plogis(p$beta0)
}

# The integer structure vector the C code reads: c(k, d, gating, expert, degree).
params_spec <- function(p) {
  as.integer(c(p$k, p$d, gating_code(p$gating), expert_code(p$expert),
               if (is.null(p$degree)) 0L else p$degree))
}

# Names of the free parameters, in the order of theta (src/sigmoe.h):
# expert by expert, beta0, beta1[, 1..d] (not for the softmax reference),
# a[, 1..d] (not for the constant expert), b.
param_names <- function(k, d, gating, expert) {
  out <- character(0)
  for (i in seq_len(k)) {
    if (!(gating == "softmax" && i == k))
      out <- c(out, sprintf("beta0[%d]", i), sprintf("beta1[%d,%d]", i, seq_len(d)))
    if (expert != "constant") out <- c(out, sprintf("a[%d,%d]", i, seq_len(d)))
    out <- c(out, sprintf("b[%d]", i))
  }
  out
}

# The free parameter vector theta of a mixing measure.
params_theta <- function(p) {
  out <- numeric(0)
  for (i in seq_len(p$k)) {
    if (!(p$gating == "softmax" && i == p$k)) out <- c(out, p$beta0[i], p$beta1[i, ])
    if (p$expert != "constant") out <- c(out, p$a[i, ])
    out <- c(out, p$b[i])
  }
  stats::setNames(out, param_names(p$k, p$d, p$gating, p$expert))
}

# The mixing measure with free parameters theta and the structure of `template`.
theta_params <- function(theta, template) {
  k <- template$k; d <- template$d
  beta0 <- numeric(k); b <- numeric(k)
  beta1 <- matrix(0, k, d, dimnames = list(NULL, colnames(template$beta1)))
  a <- beta1
  pos <- 0L
  take <- function(len) { v <- theta[pos + seq_len(len)]; pos <<- pos + len; unname(v) }
  for (i in seq_len(k)) {
    if (!(template$gating == "softmax" && i == k)) {
      beta0[i] <- take(1L)
      beta1[i, ] <- take(d)
    }
    if (template$expert != "constant") a[i, ] <- take(d)
    b[i] <- take(1L)
  }
  out <- template
  out$beta0 <- beta0; out$beta1 <- beta1; out$a <- a; out$b <- b
  out
}

n_free_params <- function(k, d, gating, expert) {
  (if (gating == "softmax") k - 1L else k) * (1L + d) +
    k * (if (expert == "constant") 1L else d + 1L)
}

check_params <- function(x, arg) {
  if (!inherits(x, "moe_params"))
    abort_arg(arg, "a `moe_params` object (see ?moe_params)", x)
  invisible(x)
}
