# Losses between a fitted and a true mixing measure (vignette("theory")): the
# Voronoi loss and the expert-level L2(mu) error. The kernels are in
# src/losses.c; this file validates, builds the atoms' weights and locations,
# and labels the results.

#' Voronoi loss between a fitted and a true mixing measure
#'
#' The loss of Nguyen, Ho and Rinaldo (2024) that measures how far the atoms
#' of a fitted mixture of experts are from the atoms of the truth, weighting
#' exact-specified and over-specified true atoms differently:
#' \deqn{D(G, G^*) = \sum_j \Big| \sum_{i \in A_j} w_i - w^*_j \Big|
#'   + \sum_{j: |A_j| = 1} \sum_{i \in A_j} w_i (c_{ij} + \|\Delta\beta_{1ij}\| + \|\Delta\eta_{ij}\|)^{r_e}
#'   + \sum_{j: |A_j| > 1} \sum_{i \in A_j} w_i (\|\Delta\beta_{1ij}\|^{r_o} + \|\Delta\eta_{ij}\|^{r_o})}{
#'   D(G, G*) = sum_j |sum_{i in A_j} w_i - w*_j|
#'   + sum_{j: |A_j| = 1} w_i (c_ij + ||dbeta1_ij|| + ||deta_ij||)^r_exact
#'   + sum_{j: |A_j| > 1} sum_{i in A_j} w_i (||dbeta1_ij||^r_over + ||deta_ij||^r_over)}
#'
#' Every fitted atom i belongs to the Voronoi cell \eqn{A_j} of the true atom
#' j nearest to it in Euclidean distance over its location
#' \eqn{(\beta_{1i}, a_i, b_i)}{(beta1_i, a_i, b_i)} (for the constant expert
#' \eqn{(\beta_{1i}, b_i)}{(beta1_i, b_i)}); \eqn{\beta_0}{beta0} is not part
#' of the location and ties go to the lowest j. A cell with one atom is
#' exact-specified, one with several is over-specified, and an empty cell pays
#' its mass term \eqn{w^*_j}{w*_j} alone. Fits with fewer atoms than the truth
#' are therefore allowed.
#'
#' Weights are \eqn{w_i = \sigma(\beta_{0i})}{w_i = sigma(beta0_i)} for the
#' sigmoid and normalized sigmoid gates, and \eqn{w_i = \exp(\beta_{0i})}{w_i
#' = exp(beta0_i)} for the softmax gate. \eqn{c_{ij} = |\beta_{0i} -
#' \beta^*_{0j}|}{c_ij = |beta0_i - beta0*_j|} for the sigmoid gates (their
#' intercepts are identified) and 0 for the softmax gate.
#'
#' The softmax gate is unchanged when one vector is added to every
#' \eqn{(\beta_{0i}, \beta_{1i})}{(beta0_i, beta1_i)}, so its atoms are only
#' defined up to that shift. Both measures are compared in the package's
#' reference convention (the last expert has \eqn{\beta_0 = 0, \beta_1 =
#' 0}{beta0 = 0, beta1 = 0}), which fixes the slopes when the fitted reference
#' atom lies in the cell of the true reference atom (the near-truth starts of
#' [convergence_study()] make sure of that). The intercepts are not fixed by
#' it when k differs from k*: splitting the true reference atom into two
#' copies re-expressed relative to one of them multiplies every fitted weight
#' by 2 while the regression function is unchanged. With `align = "mass"`
#' (the default) the fitted softmax intercepts are therefore shifted by the
#' common constant that makes the fitted weights add up to the true total
#' weight, a change of representative of the same model; with `align =
#' "none"` they are compared as given. The sigmoid gates need no alignment.
#'
#' @param fit A fitted model ([moe_fit()]) or a [moe_params()] object.
#' @param truth The true mixing measure, a [moe_params()] object with the
#'   same gate, expert and input dimension as `fit` (any number of atoms).
#' @param r_exact,r_over Exponents of the exact-specified and over-specified
#'   terms, numbers > 0 (defaults 1 and 2, as in Nguyen, Ho and Rinaldo, 2024).
#' @param align For the softmax gate: `"mass"` (default) or `"none"`, see
#'   Details. Ignored for the sigmoid gates.
#' @param ... Not used; must be empty.
#' @returns `voronoi_loss()`: a number of class `moe_voronoi` with attributes
#'   `cell` (the cell of every fitted atom, an integer vector of length k),
#'   `cells` (a data frame with one row per true atom: `atom`, `size`
#'   \eqn{|A_j|}, `type` (`"empty"`, `"exact"`, `"over"`), `weight`
#'   \eqn{w^*_j}{w*_j}, `fitted_weight` \eqn{\sum_{i \in A_j} w_i}{sum of w_i
#'   over A_j}, `mass` (the mass term), `location` (the location term) and
#'   `total`), `weights` (the fitted weights used) and `shift` (the softmax
#'   intercept shift, 0 otherwise). `as.numeric()` drops them.
#' @seealso [expert_error()], [convergence_study()].
#' @references Nguyen, H., Ho, N. and Rinaldo, A. (2024). Sigmoid gating is
#'   more sample efficient than softmax gating in mixture of experts. NeurIPS
#'   2024. arXiv:2405.13997.
#' @examples
#' truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                     b = c(0.5, 0), expert = "relu")
#' voronoi_loss(truth, truth)
#' # three fitted atoms: the first true atom split in two halves
#' over <- moe_params(beta0 = c(qlogis(plogis(-1) / 2), qlogis(plogis(-1) / 2), 1),
#'                    beta1 = c(2.1, 1.9, -2), a = c(1, 1.05, -1),
#'                    b = c(0.5, 0.5, 0), expert = "relu")
#' loss <- voronoi_loss(over, truth)
#' loss
#' attr(loss, "cells")
#' @export
voronoi_loss <- function(fit, truth, r_exact = 1, r_over = 2, align = c("mass", "none"), ...) {
  check_dots_empty(...)
  fitp <- loss_fit_params(fit, "fit")
  check_params(truth, "truth")
  check_no_output_weights(truth, "truth")
  check_same_model(fitp, truth)
  r_exact <- check_number(r_exact, "r_exact", min = 0, open_min = TRUE)
  r_over <- check_number(r_over, "r_over", min = 0, open_min = TRUE)
  if (!is.character(align) || length(align) < 1L) abort_arg("align", "\"mass\" or \"none\"", align)
  align <- check_choice(align[1L], c("mass", "none"), "align")
  voronoi_compute(fitp, truth, r_exact, r_over, align)
}

# The loss itself, on validated arguments (used by studies, once per fit).
voronoi_compute <- function(fitp, truth, r_exact = 1, r_over = 2, align = "mass") {
  w <- atom_weights(fitp)
  wt <- atom_weights(truth)
  shift <- 0
  if (fitp$gating == "softmax" && align == "mass") {
    # on the log scale: exp(beta0) overflows for intercepts past ~709, and
    # Inf * 0 would make the loss NaN for a finite fit
    shift <- log_sum_exp(truth$beta0) - log_sum_exp(fitp$beta0)
    w <- exp(fitp$beta0 + shift)
  }
  out <- .Call(C_losses_voronoi, as.double(w), as.double(fitp$beta0), atom_locations(fitp),
               as.double(wt), as.double(truth$beta0), atom_locations(truth),
               as.integer(fitp$d), fitp$gating != "softmax", c(r_exact, r_over))
  size <- out$count
  cells <- data.frame(
    atom = seq_len(truth$k), size = size,
    type = ifelse(size == 0L, "empty", ifelse(size == 1L, "exact", "over")),
    weight = wt,
    fitted_weight = vapply(seq_len(truth$k), function(j) sum(w[out$cell == j]), numeric(1)),
    mass = out$mass, location = out$term, total = out$mass + out$term
  )
  structure(out$loss, cell = out$cell, cells = cells, weights = w, shift = shift,
            class = "moe_voronoi")
}

#' @export
print.moe_voronoi <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  digits <- check_digits(digits)
  cat(sprintf("Voronoi loss %s\n", format(as.numeric(x), digits = digits)))
  cat("Cells of the fitted atoms:", paste(attr(x, "cell"), collapse = " "), "\n")
  print(attr(x, "cells"), digits = digits, row.names = FALSE)
  invisible(x)
}

#' Expert-level error of a fitted mixture of experts
#'
#' For each true expert j, the smallest \eqn{L^2(\mu)}{L2(mu)} distance
#' between its function \eqn{h(\cdot, \eta^*_j)}{h(., eta*_j)} and the fitted
#' experts \eqn{h(\cdot, \eta_i)}{h(., eta_i)} of its Voronoi cell \eqn{A_j}
#' (the cells of [voronoi_loss()]). It measures how well every true expert is
#' recovered, whatever the parameterisation of the gate.
#'
#' The distance is estimated on the rows of `x` as
#' \eqn{\sqrt{n^{-1}\sum_r (h(x_r, \eta_i) - h(x_r, \eta^*_j))^2}}{sqrt(mean_r
#' (h(x_r, eta_i) - h(x_r, eta*_j))^2)}. Without `x`, a fixed sample of 10,000
#' points drawn uniformly on \eqn{[-1, 1]^d} (the default input law of
#' [moe_simulate()] and [convergence_study()]) is used; it is drawn from a
#' fixed seed and leaves the random number generator of the session as it was.
#'
#' An empty cell (no fitted atom near the true atom) has no expert of its
#' own: its error is then the smallest distance to any fitted expert, and the
#' attribute `empty` marks it. When the gates of `fit` and `truth` differ
#' (a misspecified gate) the gating slopes are not comparable, and the cells
#' are formed on the expert parameters \eqn{(a, b)}{(a, b)} alone.
#'
#' @inheritParams voronoi_loss
#' @param truth The true mixing measure, a [moe_params()] object with the same
#'   expert and input dimension as `fit`.
#' @param x Inputs at which the experts are compared: an n x d matrix (or a
#'   vector when d = 1) drawn from the input law mu, or `NULL` for the default
#'   sample: 10,000 points drawn uniformly on \eqn{[-1, 1]^d} from a fixed
#'   seed (the session's random number generator is left as it was).
#' @returns A numeric vector with one error per true expert (`expert1`, ...),
#'   with attributes `cell` (the cell of every fitted atom), `empty` (logical,
#'   per true expert) and `distances` (the k x k* matrix of all distances).
#' @seealso [voronoi_loss()], [convergence_study()].
#' @examples
#' truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                     b = c(0.5, 0), expert = "relu")
#' expert_error(truth, truth)
#' near <- truth
#' near$a[1, 1] <- 1.1
#' expert_error(near, truth)
#' @export
expert_error <- function(fit, truth, x = NULL) {
  li <- loss_inputs(fit, truth, x, same_gate = FALSE)
  expert_error_compute(li$fitp, truth, li$x)
}

# The fitted mixing measure and the evaluation inputs of a loss computed on
# the rows of x, checked against the truth.
loss_inputs <- function(fit, truth, x, same_gate) {
  fitp <- loss_fit_params(fit, "fit")
  check_params(truth, "truth")
  check_no_output_weights(truth, "truth")
  check_same_model(fitp, truth, gating = same_gate)
  if (!is.null(x)) {
    x <- check_x_dim(x, truth$d, "x")
    # a distance estimated on no points is not 0 but unknown
    if (nrow(x) == 0L)
      stop("`x` must have at least one row (a sample from the input law), not 0.", call. = FALSE)
  }
  list(fitp = fitp, x = if (is.null(x)) default_eval_x(truth$d) else x)
}

expert_error_compute <- function(fitp, truth, x) {
  D <- .Call(C_losses_expert, expert_code(truth$expert),
             if (is.null(truth$degree)) 0L else as.integer(truth$degree),
             x, fitp$a, as.double(fitp$b), truth$a, as.double(truth$b))
  cell <- atom_cells(fitp, truth)
  err <- numeric(truth$k)
  empty <- logical(truth$k)
  for (j in seq_len(truth$k)) {
    mine <- cell == j
    empty[j] <- !any(mine)
    err[j] <- if (empty[j]) min(D[, j]) else min(D[mine, j])
  }
  names(err) <- paste0("expert", seq_len(truth$k))
  dimnames(D) <- list(paste0("fitted", seq_len(fitp$k)), names(err))
  structure(err, cell = cell, empty = empty, distances = D)
}

#' Cell-level error: how well each true component is recovered by its cell
#'
#' For each true atom j, the \eqn{L^2(\mu)}{L2(mu)} distance between the
#' gated output of its Voronoi cell, \eqn{\sum_{i \in A_j} g_i(x) h(x, \eta_i)},
#' and the true gated expert \eqn{g^*_j(x) h(x, \eta^*_j)}, computed on the
#' rows of `x`. When a true atom is fitted by several atoms it is this sum,
#' not any single fitted expert, that the data identify: the cell error can be
#' small while the experts of the cell differ from the true one (see
#' [expert_error()]), which is what happens to over-specified atoms with a
#' non-zero gating slope under the sigmoid gate. An empty cell contributes 0,
#' so its error is the norm of the true gated expert. The gated outputs are
#' functions, so `fit` and `truth` may have different gates (for a
#' misspecified gate); the cells are then formed on the expert parameters
#' \eqn{(a, b)}{(a, b)} alone, as in [expert_error()].
#'
#' @inheritParams expert_error
#' @returns A numeric vector, one error per true atom, with attribute `cell`
#'   (the cell of every fitted atom).
#' @seealso [expert_error()], [voronoi_loss()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(0, -3), a = c(1.5, -1),
#'                     b = c(0.3, 0.2), gating = "sigmoid", expert = "relu")
#' cell_error(truth, truth)
#' # atom 1 has gating slope 0: two copies of half its weight add up exactly
#' w <- plogis(0.5) / 2
#' split <- moe_params(beta0 = c(qlogis(w), qlogis(w), -0.5), beta1 = c(0, 0, -3),
#'                     a = c(1.5, 1.5, -1), b = c(0.3, 0.3, 0.2), expert = "relu")
#' cell_error(split, truth)
#' # with a non-zero slope the same split does not (see vignette("theory"))
#' truth$beta1[1, ] <- split$beta1[1:2, ] <- 3
#' cell_error(split, truth)
#' @export
cell_error <- function(fit, truth, x = NULL) {
  li <- loss_inputs(fit, truth, x, same_gate = FALSE)
  cell_error_compute(li$fitp, truth, li$x)
}

cell_error_compute <- function(fitp, truth, x) {
  cell <- atom_cells(fitp, truth)
  cf <- model_components(fitp, x)
  ct <- model_components(truth, x)
  gh <- cf$gates * cf$experts
  err <- vapply(seq_len(truth$k), function(j) {
    mine <- cell == j
    s <- if (any(mine)) rowSums(gh[, mine, drop = FALSE]) else 0
    sqrt(mean((s - ct$gates[, j] * ct$experts[, j])^2))
  }, numeric(1))
  names(err) <- paste0("atom", seq_len(truth$k))
  structure(err, cell = cell)
}

# Voronoi cells of the fitted atoms: over the full location when the gates
# match, over the expert parameters alone when they do not.
atom_cells <- function(fitp, truth) {
  same_gate <- identical(fitp$gating, truth$gating)
  loc <- atom_locations(fitp, gate = same_gate)
  loct <- atom_locations(truth, gate = same_gate)
  .Call(C_losses_voronoi, rep(1, fitp$k), numeric(fitp$k), loc, rep(1, truth$k),
        numeric(truth$k), loct, if (same_gate) as.integer(fitp$d) else 0L, FALSE,
        c(1, 2))$cell
}

# log(sum(exp(v))) without overflow.
log_sum_exp <- function(v) {
  m <- max(v)
  m + log(sum(exp(v - m)))
}

# What a study compares the fits of gate g with, laid out for the C losses
# (C_losses_study): `vor_truth` the truth in the gate's parameterisation
# (NULL when the gate cannot represent it: no Voronoi loss), `ee_truth` the
# truth the expert errors are measured against (the same, or the data's
# truth for a misspecified gate, whose cells are then formed on the experts'
# parameters alone).
study_loss_target <- function(vor_truth, ee_truth, g) {
  vor <- if (!is.null(vor_truth))
    list(w = as.double(atom_weights(vor_truth)), beta0 = as.double(vor_truth$beta0),
         loc = atom_locations(vor_truth), lse = log_sum_exp(vor_truth$beta0))
  same <- identical(g, ee_truth$gating)
  A <- ee_truth$a
  storage.mode(A) <- "double"
  dimnames(A) <- NULL
  list(voronoi = vor,
       expert = list(A = A, b = as.double(ee_truth$b), loc = atom_locations(ee_truth, gate = same),
                     same_gate = same))
}

# The built-in losses of a study's fits of one task, all gates in one call:
# `fits` has per gate NULL (a failed fit) or list(spec, theta); `targets` per
# gate a study_loss_target(). On the evaluation grid x, with f_true the true
# regression function there. Returns per gate NULL or c(voronoi, l2, expert
# errors), bit for bit the numbers of voronoi_compute(),
# expert_error_compute() and of the L2(mu) distance between the fitted and
# the true regression functions, sqrt(mean((f_G(x) - f_true)^2)) (the R
# references are in tests/testthat/helper-reference.R), without their n x k
# matrices.
study_losses <- function(fits, targets, x, f_true, builtin) {
  .Call(C_losses_study, fits, targets, x, f_true, study_builtin_losses %in% builtin)
}

# Location of every atom: (beta1, a, b), or (beta1, b) for the constant
# expert; without the gate part when gate = FALSE.
atom_locations <- function(p, gate = TRUE) {
  eta <- if (p$expert == "constant") matrix(p$b, ncol = 1L) else cbind(p$a, p$b)
  out <- if (gate) cbind(p$beta1, eta) else eta
  storage.mode(out) <- "double"
  dimnames(out) <- NULL
  out
}

loss_fit_params <- function(fit, arg) {
  p <- if (inherits(fit, "moe_fit")) check_fit(fit, arg)$coefficients
       else if (inherits(fit, "moe_params")) check_params(fit, arg)
       else abort_arg(arg, "a `moe_fit` or a `moe_params` object", fit)
  check_no_output_weights(p, arg)
  p
}

# The losses of the theory are for its experts, which have no output weight.
check_no_output_weights <- function(p, arg) {
  if (!is.null(p$c))
    stop(sprintf(paste0("`%s` has output weights `c`; the Voronoi loss and the expert errors are ",
                        "defined for the experts of the theory, which have none."), arg), call. = FALSE)
  invisible(p)
}

check_same_model <- function(fitp, truth, gating = TRUE) {
  if (gating && !identical(fitp$gating, truth$gating))
    stop(sprintf(paste0("`fit` has a %s gate but `truth` has a %s gate; the Voronoi loss ",
                        "compares mixing measures of the same gate (a two-expert softmax truth ",
                        "can be rewritten as a sigmoid one, see ?convergence_study)."),
                 fitp$gating, truth$gating), call. = FALSE)
  if (!identical(as.integer(fitp$d), as.integer(truth$d)))
    stop(sprintf("`fit` has d = %d inputs but `truth` has d = %d; they must match.",
                 fitp$d, truth$d), call. = FALSE)
  if (!identical(fitp$expert, truth$expert) || !identical(fitp$degree, truth$degree)) {
    stop(sprintf("`fit` has %s experts but `truth` has %s experts; they must match.",
                 expert_label(fitp$expert, fitp$degree), expert_label(truth$expert, truth$degree)),
         call. = FALSE)
  }
  invisible(TRUE)
}

# The fixed evaluation sample of expert_error() without `x`: 10,000 points
# uniform on [-1, 1]^d from a fixed seed.
default_eval_x <- function(d, n = 10000L) {
  x <- with_rng(20240513L, matrix(stats::runif(n * d, -1, 1), n, d))
  colnames(x) <- paste0("x", seq_len(d))
  x
}
