# The mixing-measure object: k atoms (gating intercept beta0_i, gating slope
# beta1_i, expert parameters eta_i = (a_i, b_i)) with the gate and the expert.

gating_types <- c("sigmoid", "softmax", "normalized_sigmoid")
expert_types <- c("linear", "relu", "gelu", "sigmoid", "tanh", "polynomial", "constant")

# Codes shared with src/moe.h.
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
#'   With one expert this gate is identically 1, so that expert is a
#'   reference too: `beta0` and `beta1` must be 0 and are not fitted.
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
#' @param c `NULL` (the experts of the theory), or output weights, one per
#'   expert: expert i is then \eqn{c_i h(a_i^\top x + b_i)}{c_i h(a_i'x + b_i)},
#'   so that ReLU, GELU, sigmoid, tanh and polynomial experts can take either
#'   sign and any scale (see the section on output weights).
#' @returns An object of class `moe_params`: a list with `beta0`, `beta1`, `a`,
#'   `b`, `c`, `gating`, `expert`, `degree`, `k` and `d`.
#' @section Output weights:
#' The experts of the theory have no output weight, so a ReLU, GELU, sigmoid
#' or tanh expert cannot fit a response of the other sign (a sigmoid expert
#' stays in (0, 1)). With output weights `c` they can. Identification then
#' depends on the expert: GELU, sigmoid and tanh experts with a weight are
#' identified (no rescaling of (a, b) can be undone by c); ReLU and
#' polynomial experts are positively homogeneous, \eqn{c\,\mathrm{relu}(t) =
#' (c/s)\,\mathrm{relu}(s t)}{c relu(t) = (c/s) relu(s t)} for s > 0 (and
#' \eqn{c t^p = (c/s^p) (s t)^p}{c t^p = (c / s^p) (s t)^p}), so one direction
#' of each such expert's parameters is not identified: the regression
#' function is, but the information is singular and [vcov()][vcov.moe_fit]
#' says so. Linear and constant experts already carry their scale, so they
#' take no output weight. The losses of the theory ([voronoi_loss()],
#' [expert_error()], [cell_error()]) are for the experts without weights.
#' @seealso [moe_mean()], [moe_simulate()], [moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                     b = c(0.5, 0), gating = "sigmoid", expert = "relu")
#' truth
#' moe_mean(truth, c(-0.5, 0, 0.5))
#' @export
moe_params <- function(beta0, beta1, a = NULL, b, gating = "sigmoid",
                       expert = "relu", degree = NULL, c = NULL) {
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
  degree <- check_degree(degree, expert)
  if (!is.null(c)) {
    if (expert %in% c("linear", "constant"))
      stop(sprintf(paste0("`c` (output weights) must be NULL for the %s expert, whose scale is ",
                          "already a parameter: with it the model would not be identified."), expert),
           call. = FALSE)
    if (!is.numeric(c) || length(c) != k || !is.null(dim(c)) && min(dim(c)) > 1L)
      abort_arg("c", sprintf("NULL or a numeric vector of output weights of length k = %d", k), c)
    c <- as.double(c)
    if (!all(is.finite(c))) stop("`c` must contain only finite values.", call. = FALSE)
  }
  if (gate_reference(gating, k) && (beta0[k] != 0 || any(beta1[k, ] != 0)))
    stop(sprintf("%s: `beta0[%d]` and `beta1[%d, ]` must be 0, not %s and (%s).",
                 reference_why(gating, k), k, k,
                 format(beta0[k]), paste(format(beta1[k, ]), collapse = ", ")), call. = FALSE)
  if (is.null(colnames(beta1))) colnames(beta1) <- if (!is.null(colnames(a))) colnames(a) else paste0("x", seq_len(d))
  colnames(a) <- colnames(beta1)
  rownames(beta1) <- rownames(a) <- NULL
  structure(list(beta0 = beta0, beta1 = beta1, a = a, b = b, c = c, gating = gating,
                 expert = expert, degree = degree, k = k, d = d),
            class = "moe_params")
}

#' @export
print.moe_params <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  digits <- check_digits(digits)
  cat(sprintf("Mixture of experts: %d %s expert%s, %s gate, d = %d\n", x$k,
              expert_label(x$expert, x$degree),
              if (x$k == 1L) "" else "s", sub("_", " ", x$gating), x$d))
  print(params_table(x), digits = digits)
  reference_note(x$gating, x$k)
  invisible(x)
}

# Whether expert k of a k-expert gate is a reference, whose gate parameters
# are held at 0 and are not part of theta: the softmax gate's last expert
# (its logits are defined up to a common shift), and the one expert of a
# normalized sigmoid gate, which is identically 1 whatever its logit.
gate_reference <- function(gating, k) {
  gating == "softmax" | (gating == "normalized_sigmoid" & k == 1L)
}

# The reference expert as named in messages, with its number k when given.
reference_name <- function(gating, k = NULL) {
  if (gating == "softmax") paste(c("softmax reference expert", k), collapse = " ")
  else "one expert of a normalized sigmoid gate (identically 1)"
}

# Why expert k's gate parameters are held at 0, as said in messages.
reference_why <- function(gating, k) {
  if (gating == "softmax") sprintf("For the softmax gate expert k = %d is the reference", k)
  else "With one expert the normalized sigmoid gate is identically 1"
}

# The line printed under a mixing measure with a reference expert.
reference_note <- function(gating, k) {
  if (!gate_reference(gating, k)) return(invisible())
  cat(if (gating == "softmax") sprintf("(expert %d is the softmax reference)\n", k)
      else "(one expert: the normalized sigmoid gate is identically 1)\n")
}

# The expert type as printed: "relu", "polynomial (degree 3)".
expert_label <- function(expert, degree) {
  if (expert == "polynomial") sprintf("polynomial (degree %d)", degree) else expert
}

# One row per atom: weight, beta0, beta1, a, b.
params_table <- function(p) {
  vars <- colnames(p$beta1)
  tab <- data.frame(weight = atom_weights(p), beta0 = p$beta0)
  for (j in seq_len(p$d)) tab[[paste0("beta1.", vars[j])]] <- p$beta1[, j]
  if (p$expert != "constant") for (j in seq_len(p$d)) tab[[paste0("a.", vars[j])]] <- p$a[, j]
  tab$b <- p$b
  if (!is.null(p$c)) tab$c <- p$c
  rownames(tab) <- paste("expert", seq_len(p$k))
  tab
}

# Atom weights of the mixing measure: sigma(beta0) for sigmoid-type gates,
# exp(beta0) for softmax (vignette("theory"), section on mixing measures).
atom_weights <- function(p) {
  if (p$gating == "softmax") exp(p$beta0) else stats::plogis(p$beta0)
}

# The integer structure vector the C code reads: c(k, d, gating, expert,
# degree, output weights).
params_spec <- function(p) {
  p <- unclass(p)  # plain `$`, without a look for methods
  as.integer(c(p$k, p$d, gating_code(p$gating), expert_code(p$expert),
               if (is.null(p$degree)) 0L else p$degree, !is.null(p$c)))
}

# The layout of the free parameter vector theta, the order src/moe.h, the
# solver and the Jacobian's columns share: expert by expert, beta0[i],
# beta1[i, 1..d] (absent for a reference expert k, gate_reference()), a[i, 1..d]
# (absent for the constant expert), b[i]. Names, packing, unpacking and the
# count of theta all derive from it. One element per position of theta: its
# block ("beta0", "beta1", "a", "b"), expert i, column j (NA for beta0 and b),
# name, and index into c(beta0, beta1, a, b) of a mixing measure, so that
# packing and unpacking are single subscripts, not loops.
theta_layout <- function(k, d, gating, expert, outw = FALSE) {
  # a fit asks for the same few layouts many times
  cached_value(layout_cache, list(k, d, gating, expert, outw), theta_layout_build)
}

layout_cache <- new.env(parent = emptyenv())

# The value of build(...) for the arguments in the list `args`, kept in the
# environment `memo` for the last arguments asked for (found by identical()).
last_value <- function(memo, args, build) {
  if (!is.null(memo$args) && identical(memo$args, args)) return(memo$value)
  value <- do.call(build, args)
  memo$args <- args
  memo$value <- value
  value
}

# The value of build(...) for the arguments in the list `args`, kept in the
# environment `cache` once built: the last one asked for is found by
# identical(), the others by a key made of the arguments (and checked, since
# two argument lists can give the same key). At most 1000 are kept.
cached_value <- function(cache, args, build) {
  last <- cache$.last
  if (!is.null(last) && identical(last$args, args)) return(last$value)
  key <- paste(unlist(args, use.names = FALSE), collapse = "\r")
  entry <- cache[[key]]
  if (is.null(entry) || !identical(entry$args, args)) {
    entry <- list(args = args, value = do.call(build, args))
    if (length(cache) < 1000L) assign(key, entry, envir = cache)
  }
  assign(".last", entry, envir = cache)
  entry$value
}

theta_layout_build <- function(k, d, gating, expert, outw) {
  slopes <- if (expert == "constant") 0L else d
  block <- c("beta0", rep("beta1", d), rep("a", slopes), "b", if (outw) "c")
  column <- c(NA_integer_, seq_len(d), seq_len(slopes), NA_integer_, if (outw) NA_integer_)
  offset <- c(0L, k + (seq_len(d) - 1L) * k, k + k * d + (seq_len(slopes) - 1L) * k, k + 2L * k * d,
              if (outw) 2L * k + 2L * k * d)
  i <- rep(seq_len(k), each = length(block))
  block <- rep(block, times = k)
  column <- rep(column, times = k)
  keep <- !(gate_reference(gating, k) & i == k & block %in% c("beta0", "beta1"))
  i <- i[keep]; block <- block[keep]; column <- column[keep]
  name <- ifelse(is.na(column), sprintf("%s[%d]", block, i), sprintf("%s[%d,%d]", block, i, column))
  P <- length(i)
  list(block = block, expert = i, column = column, name = name,
       index = rep(offset, times = k)[keep] + i,
       # the intercepts (which a change of location moves), and the box of
       # no bounds, which most fits have
       intercept = block %in% c("beta0", "b"),
       free_box = list(lower = stats::setNames(rep(-Inf, P), name),
                       upper = stats::setNames(rep(Inf, P), name)))
}

param_names <- function(k, d, gating, expert, outw = FALSE) theta_layout(k, d, gating, expert, outw)$name

n_free_params <- function(k, d, gating, expert, outw = FALSE) {
  length(theta_layout(k, d, gating, expert, outw)$index)
}

# The layout of a mixing measure's theta.
params_layout <- function(p) {
  p <- unclass(p)
  theta_layout(p$k, p$d, p$gating, p$expert, !is.null(p$c))
}

# The free parameter vector theta of a mixing measure.
params_theta <- function(p) {
  p <- unclass(p)
  lay <- params_layout(p)
  theta <- as.double(c(p$beta0, p$beta1, p$a, p$b, p$c))[lay$index]
  names(theta) <- lay$name
  theta
}

# The mixing measure with free parameters theta and the structure of
# `template`; the parameters theta leaves out (a reference expert's gate,
# the constant expert's slopes) are 0.
theta_params <- function(theta, template) {
  # filled in as a plain list (`$<-` without a look for methods), then
  # classed again
  out <- unclass(template)
  k <- out$k; d <- out$d
  outw <- !is.null(out$c)
  flat <- numeric(2L * k + 2L * k * d + if (outw) k else 0L)
  flat[params_layout(out)$index] <- theta
  # the template's matrices keep their shape and names
  out$beta0 <- flat[seq_len(k)]
  out$beta1[] <- flat[k + seq_len(k * d)]
  out$a[] <- flat[k + k * d + seq_len(k * d)]
  out$b <- flat[k + 2L * k * d + seq_len(k)]
  if (outw) out$c <- flat[2L * k + 2L * k * d + seq_len(k)]
  class(out) <- class(template)
  out
}
