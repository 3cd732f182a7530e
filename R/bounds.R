# The compact parameter set of the theory: a box lower <= theta <= upper on
# every free parameter, stated by the user in the layout of moe_params() and
# turned here into two vectors in the order of theta, which the solver
# (src/lsq.c) enforces.

bound_blocks <- c("beta0", "beta1", "a", "b", "c")

# One side of the box as the four blocks of a mixing measure (beta0, b of
# length k; beta1, a k x d), from a number or a named list of numbers and
# full-size arrays; blocks left out of the list get `default`.
bound_blocks_fill <- function(bound, k, d, arg, default, outw = FALSE) {
  shape <- list(beta0 = k, beta1 = c(k, d), a = c(k, d), b = k)
  if (outw) shape$c <- k
  blocks <- names(shape)
  out <- lapply(shape, function(s) array(default, s))
  expected <- paste0("a number, or a named list with elements among ",
                     paste0("`", blocks, "`", collapse = ", "),
                     ", each a number or an array of the parameter's size")
  if (is.numeric(bound) && length(bound) == 1L && is.null(dim(bound))) {
    if (is.na(bound)) abort_arg(arg, expected, bound)
    return(lapply(out, function(v) { v[] <- bound; v }))
  }
  if (!is.list(bound) || is.data.frame(bound) || length(bound) == 0L) abort_arg(arg, expected, bound)
  nm <- names(bound)
  if (is.null(nm) || any(!nzchar(nm)))
    stop(sprintf("`%s` must be a named list (names among %s).", arg,
                 paste0("`", blocks, "`", collapse = ", ")), call. = FALSE)
  bad <- setdiff(nm, blocks)
  if (length(bad))
    stop(sprintf("`%s` has an element `%s`; the blocks of parameters are %s.", arg, bad[1L],
                 paste0("`", blocks, "`", collapse = ", ")), call. = FALSE)
  if (anyDuplicated(nm)) stop(sprintf("`%s` names `%s` twice.", arg, nm[anyDuplicated(nm)]), call. = FALSE)
  for (blk in nm) {
    v <- bound[[blk]]
    what <- sprintf("%s$%s", arg, blk)
    size <- prod(shape[[blk]])
    if (!is.numeric(v) || anyNA(v) || !(length(v) == 1L || length(v) == size))
      abort_arg(what, sprintf("a number or %d numbers (%s)", size,
                              if (length(shape[[blk]]) == 1L) sprintf("one per expert, k = %d", k)
                              else sprintf("a %d x %d matrix", k, d)), v)
    if (length(v) > 1L && !is.null(dim(v)) && !identical(as.integer(dim(v)), as.integer(shape[[blk]])) &&
        !(length(shape[[blk]]) == 2L && d == 1L && length(dim(v)) == 1L))
      abort_arg(what, sprintf("an array of dimension %s", paste(shape[[blk]], collapse = " x ")), v)
    out[[blk]][] <- as.double(v)
  }
  out
}

# The box for a model with the structure of `template`, as two vectors in the
# order of theta (-Inf and Inf where a side is free), after checking that
# lower <= upper and that the parameters theta leaves out at 0 (the softmax
# reference gate, the constant expert's slopes) lie in the box.
box_theta <- function(lower, upper, template) {
  # no box at all (the default): nothing to check
  if (identical(lower, -Inf) && identical(upper, Inf)) return(params_layout(template)$free_box)
  # fits often come with the same box: the last one is kept
  last_value(box_last, list(lower, upper, template), box_theta_build)
}

box_last <- new.env(parent = emptyenv())

box_theta_build <- function(lower, upper, template) {
  k <- template$k; d <- template$d
  outw <- !is.null(template$c)
  lo <- bound_blocks_fill(lower, k, d, "lower", -Inf, outw)
  up <- bound_blocks_fill(upper, k, d, "upper", Inf, outw)
  lay <- params_layout(template)
  flat_lo <- unlist(lapply(lo, as.double), use.names = FALSE)
  flat_up <- unlist(lapply(up, as.double), use.names = FALSE)
  names_all <- all_param_names(k, d, outw)
  # no parameter can be >= Inf or <= -Inf: such a side leaves the box empty
  # (and the solver with nothing but non-finite SSEs), whatever the other is
  empty <- list(lower = which(flat_lo == Inf), upper = which(flat_up == -Inf))
  for (side in names(empty)) {
    i <- empty[[side]]
    if (length(i))
      stop(sprintf(paste0("`%s` must be %s for every parameter, not %s (for %s): no finite value ",
                          "lies %s it."), side,
                   if (side == "lower") "a finite number or -Inf" else "a finite number or Inf",
                   if (side == "lower") "Inf" else "-Inf", names_all[i[1L]],
                   if (side == "lower") "above" else "below"), call. = FALSE)
  }
  crossed <- which(flat_lo > flat_up)
  if (length(crossed))
    stop(sprintf("`lower` must be <= `upper` for every parameter; %s has lower %s > upper %s.",
                 names_all[crossed[1L]], format(flat_lo[crossed[1L]]), format(flat_up[crossed[1L]])),
         call. = FALSE)
  fixed <- setdiff(seq_along(flat_lo), lay$index)
  outside <- fixed[flat_lo[fixed] > 0 | flat_up[fixed] < 0]
  if (length(outside)) {
    why <- if (gate_reference(template$gating, k) && grepl(sprintf("^beta[01]\\[%d", k), names_all[outside[1L]]))
      sprintf("the %s has beta0 and beta1 fixed at 0", reference_name(template$gating, k))
    else "the constant expert's slopes `a` are fixed at 0"
    stop(sprintf("The box given by `lower` and `upper` must contain 0 for %s (%s), but it is [%s, %s].",
                 names_all[outside[1L]], why, format(flat_lo[outside[1L]]), format(flat_up[outside[1L]])),
         call. = FALSE)
  }
  list(lower = stats::setNames(flat_lo[lay$index], lay$name),
       upper = stats::setNames(flat_up[lay$index], lay$name))
}

# A side of the box as the solver takes it: NULL when it bounds nothing, so
# that an unbounded fit runs the solver's unbounded path.
solver_bound <- function(v) if (all(is.infinite(v))) NULL else unname(v)

# Names of every parameter of a k-expert model in the order of
# c(beta0, beta1, a, b), including those theta leaves out.
all_param_names <- function(k, d, outw = FALSE) {
  ij <- function(blk) sprintf("%s[%d,%d]", blk, rep(seq_len(k), d), rep(seq_len(d), each = k))
  c(sprintf("beta0[%d]", seq_len(k)), ij("beta1"), ij("a"), sprintf("b[%d]", seq_len(k)),
    if (outw) sprintf("c[%d]", seq_len(k)))
}

# theta moved into the box (for data-driven starts, which know nothing of it).
box_project <- function(theta, box) pmin(pmax(theta, box$lower), box$upper)

# Which parameters of theta lie outside the box (a logical vector).
box_outside <- function(theta, box) theta < box$lower | theta > box$upper

# Which parameters of theta are at a finite bound of the box.
box_at_bound <- function(theta, box) {
  stats::setNames((is.finite(box$lower) & theta <= box$lower) |
                    (is.finite(box$upper) & theta >= box$upper), names(theta))
}
