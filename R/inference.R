# Wald inference on the free parameters of a fit: vcov() and confint() from
# the Gauss-Newton information J'J, with a pseudo-inverse when it is singular
# (documented with the accessors, ?moe_fit-methods).

#' @rdname moe_fit-methods
#' @export
vcov.moe_fit <- function(object, tol = sqrt(.Machine$double.eps), ...) {
  info <- information_inverse(object, tol)
  if (info$singular) warn_singular(info, object$npar)
  if (any(info$at_bound)) warn_at_bound(object)
  v <- info$inverse * sigma.moe_fit(object)^2
  dimnames(v) <- list(names(object$theta), names(object$theta))
  v
}

warn_singular <- function(info, npar) {
  msg <- sprintf(paste0("The information J'J of the fit is singular (numerical rank %d of %d ",
                        "parameters), usually because the model is over-specified (more ",
                        "experts than the data support); a pseudo-inverse was used, and the ",
                        "standard errors of the unidentified directions (%s) are not meaningful."),
                 info$rank, npar, name_list(names(info$estimable)[!info$estimable]))
  warning(structure(class = c("sigmoe_singular_information", "warning", "condition"),
                    list(message = msg, call = NULL)))
}

# Parameters at a bound of the box get no Wald inference: the information
# describes the surface only on the side of the box the fit can reach.
warn_at_bound <- function(object) {
  msg <- sprintf(paste0("%d parameter%s ended at a bound of the box (%s); %s no standard error ",
                        "and no interval."), sum(object$at_bound), if (sum(object$at_bound) == 1L) "" else "s",
                 bound_list(object), if (sum(object$at_bound) == 1L) "it has" else "they have")
  warning(structure(class = c("sigmoe_at_bound", "warning", "condition"),
                    list(message = msg, call = NULL)))
}

# "beta1[1,1] at its upper bound 10, ..." for the parameters at a bound.
bound_list <- function(object) {
  at <- which(object$at_bound)
  side <- ifelse(object$theta[at] >= object$upper[at], "upper", "lower")
  value <- ifelse(side == "upper", object$upper[at], object$lower[at])
  name_list(sprintf("%s at its %s bound %s", names(object$theta)[at], side, format(value)), max = 4L)
}

name_list <- function(x, max = 6L) {
  if (length(x) > max) paste0(paste(x[seq_len(max)], collapse = ", "), ", ... (", length(x), " in all)")
  else paste(x, collapse = ", ")
}

# Inverse (or pseudo-inverse) of J'J over the parameters that are not at a
# bound of the box (the others get NA), scaled to unit diagonal so that the
# tolerance does not depend on the units of the parameters.
information_inverse <- function(object, tol = sqrt(.Machine$double.eps)) {
  tol <- check_number(tol, "tol", min = 0)
  pin_blas_threads()
  A <- unname(object$jtj)
  P <- ncol(A)
  at_bound <- if (is.null(object$at_bound)) logical(P) else unname(object$at_bound)
  free <- which(!at_bound)
  out <- list(inverse = matrix(NA_real_, P, P), rank = 0L, singular = FALSE,
              estimable = stats::setNames(logical(P), names(object$theta)), rcond = 0,
              at_bound = stats::setNames(at_bound, names(object$theta)))
  if (!length(free)) return(out)
  sub <- information_inverse_free(A[free, free, drop = FALSE], tol)
  out$inverse[free, free] <- sub$inverse
  out$estimable[free] <- sub$estimable
  out[c("rank", "singular", "rcond")] <- sub[c("rank", "singular", "rcond")]
  out
}

# The same for a matrix of free parameters. A column at the rounding level of
# the largest (an expert switched off on every row) is treated as exactly zero
# rather than scaled up into noise.
information_inverse_free <- function(A, tol) {
  P <- ncol(A)
  dg <- diag(A)
  dead <- !(dg > .Machine$double.eps^2 * max(dg, 0))
  s <- sqrt(dg)
  s[dead] <- 1
  As <- A / outer(s, s)
  As[dead, ] <- 0
  As[, dead] <- 0
  e <- eigen(As, symmetric = TRUE)
  lam <- e$values
  keep <- lam > tol * max(lam[1L], 0)
  V <- e$vectors
  Vk <- V[, keep, drop = FALSE]
  inverse <- (Vk %*% (t(Vk) / lam[keep])) / outer(s, s)
  # theta_j is estimable when its coordinate vector lies in the identified
  # eigenspace, i.e. has no component in the dropped one
  drop_norm <- sqrt(rowSums(V[, !keep, drop = FALSE]^2))
  estimable <- drop_norm < 1e-4
  list(inverse = inverse, rank = sum(keep), singular = sum(keep) < P,
       estimable = estimable, rcond = if (lam[1L] > 0) max(lam[P], 0) / lam[1L] else 0)
}

#' @rdname moe_fit-methods
#' @export
confint.moe_fit <- function(object, parm, level = 0.95, ...) {
  theta <- object$theta
  pnames <- names(theta)
  if (missing(parm)) {
    parm <- pnames
  } else if (is.character(parm)) {
    bad <- setdiff(parm, pnames)
    if (length(bad))
      stop(sprintf("`parm` must name free parameters of the fit (%s, ...), not %s.",
                   paste0("\"", utils::head(pnames, 3L), "\"", collapse = ", "),
                   paste0("\"", bad, "\"", collapse = ", ")), call. = FALSE)
  } else if (is.numeric(parm) && all(is_whole_vec(parm)) && all(parm >= 1 & parm <= length(theta))) {
    parm <- pnames[parm]
  } else {
    abort_arg("parm", sprintf("parameter names or indices between 1 and %d", length(theta)), parm)
  }
  level <- check_number(level, "level", min = 0, max = 1)
  if (level <= 0 || level >= 1) abort_arg("level", "a number strictly between 0 and 1", level)
  info <- information_inverse(object, ...)
  if (info$singular) warn_singular(info, object$npar)
  if (any(info$at_bound[parm])) warn_at_bound(object)
  se <- sqrt(pmax(diag(info$inverse), 0)) * sigma.moe_fit(object)
  names(se) <- pnames
  se[!info$estimable] <- NA_real_
  a <- (1 - level) / 2
  a <- c(a, 1 - a)
  q <- stats::qt(a, object$df.residual)
  ci <- theta[parm] + outer(se[parm], q)
  # an interval never leaves the parameter set: it is cut at the box
  if (!is.null(object$lower)) {
    ci[, 1L] <- pmax(ci[, 1L], object$lower[parm])
    ci[, 2L] <- pmin(ci[, 2L], object$upper[parm])
  }
  dimnames(ci) <- list(parm, paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3), "%"))
  ci
}
