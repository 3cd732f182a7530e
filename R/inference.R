# Wald inference on the free parameters of a fit: vcov() and confint() from
# the Gauss-Newton information J'J, with a pseudo-inverse when it is singular
# (documented with the accessors, ?moe_fit-methods).

#' @rdname moe_fit-methods
#' @export
vcov.moe_fit <- function(object, tol = sqrt(.Machine$double.eps), ...) {
  info <- information_inverse(object, tol)
  if (info$singular) warn_singular(info, object$npar)
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

name_list <- function(x, max = 6L) {
  if (length(x) > max) paste0(paste(x[seq_len(max)], collapse = ", "), ", ... (", length(x), " in all)")
  else paste(x, collapse = ", ")
}

# Inverse (or pseudo-inverse) of J'J, scaled to unit diagonal so that the
# tolerance does not depend on the units of the parameters. A column at the
# rounding level of the largest (an expert switched off on every row) is
# treated as exactly zero rather than scaled up into noise.
information_inverse <- function(object, tol = sqrt(.Machine$double.eps)) {
  tol <- check_number(tol, "tol", min = 0)
  A <- unname(object$jtj)
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
  estimable <- stats::setNames(drop_norm < 1e-4, names(object$theta))
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
  se <- sqrt(pmax(diag(info$inverse), 0)) * sigma.moe_fit(object)
  names(se) <- pnames
  se[!info$estimable] <- NA_real_
  a <- (1 - level) / 2
  a <- c(a, 1 - a)
  q <- stats::qt(a, object$df.residual)
  ci <- theta[parm] + outer(se[parm], q)
  dimnames(ci) <- list(parm, paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3), "%"))
  ci
}
