# Wald inference on the free parameters of a fit: vcov() and confint() from
# the Gauss-Newton information J'J, with a pseudo-inverse when it is singular
# (documented with the accessors, ?moe_fit-methods); and F tests between
# nested fits, anova().

#' @rdname moe_fit-methods
#' @export
vcov.moe_fit <- function(object, tol = sqrt(.Machine$double.eps), ...) {
  check_fit(object)
  info <- information_inverse(object, tol)
  if (info$singular) warn_singular(info)
  if (any(info$at_bound)) warn_at_bound(object)
  v <- info$inverse * sigma.moe_fit(object)^2
  dimnames(v) <- list(names(object$theta), names(object$theta))
  v
}

# The rank is that of the information of the parameters not at a bound (the
# others have no Wald inference, warn_at_bound()), as summary() counts it.
warn_singular <- function(info) {
  free <- !info$at_bound
  msg <- sprintf(paste0("The information J'J of the fit is singular (numerical rank %d of %d ",
                        "parameters%s), usually because the model is over-specified (more ",
                        "experts than the data support); a pseudo-inverse was used, and the ",
                        "standard errors of the unidentified directions (%s) are not meaningful."),
                 info$rank, sum(free), if (all(free)) "" else " not at a bound",
                 name_list(names(info$estimable)[!info$estimable & free]))
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
  # each bound formatted alone: format() of the vector would pad 3 to " 3" beside -3
  name_list(sprintf("%s at its %s bound %s", names(object$theta)[at], side,
                    vapply(value, format, "")), max = 4L)
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
  # inputs far from 0 make J'J of the intercepts and slopes nearly collinear
  # in the data's coordinates: the rank is decided, and the inverse taken,
  # in the centred coordinates the fit worked in (theta_c = C theta)
  C <- centring_map(object)
  Cinv <- if (!is.null(C)) solve(C[free, free, drop = FALSE])
  sub <- information_inverse_free(A[free, free, drop = FALSE], tol, Cinv)
  out$inverse[free, free] <- sub$inverse
  out$estimable[free] <- sub$estimable
  out[c("rank", "singular", "rcond")] <- sub[c("rank", "singular", "rcond")]
  out
}

# The same for a matrix of free parameters. A column at the rounding level of
# the largest (an expert switched off on every row) is treated as exactly zero
# rather than scaled up into noise.
information_inverse_free <- function(A, tol, Cinv = NULL) {
  # in coordinates theta_c with theta = Cinv theta_c: J_c = J Cinv
  if (!is.null(Cinv)) A <- crossprod(Cinv, A %*% Cinv)
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
  # theta_j is estimable when its coordinate vector (row j of Cinv in the
  # other coordinates), in the scaled space, lies in the identified
  # eigenspace, i.e. has no component in the dropped one
  U <- if (is.null(Cinv)) diag(P) else t(Cinv)
  U <- U / s
  U <- sweep(U, 2L, sqrt(colSums(U^2)), "/")
  drop_norm <- sqrt(colSums(crossprod(V[, !keep, drop = FALSE], U)^2))
  estimable <- drop_norm < 1e-4
  if (!is.null(Cinv)) inverse <- Cinv %*% inverse %*% t(Cinv)
  list(inverse = inverse, rank = sum(keep), singular = sum(keep) < P,
       estimable = estimable, rcond = if (lam[1L] > 0) max(lam[P], 0) / lam[1L] else 0)
}

# The linear map C from a fit's theta to the theta of its centred inputs
# (x - centre): beta0_i + beta1_i'centre and b_i + a_i'centre; NULL when the
# fit did not centre.
centring_map <- function(object) {
  cen <- unclass(object$scaling)$center
  if (is.null(cen) || all(cen == 0)) return(NULL)
  centring_matrix(cen, params_layout(object$coefficients))
}

#' @rdname moe_fit-methods
#' @export
confint.moe_fit <- function(object, parm, level = 0.95, ...) {
  check_fit(object)
  # `...` carries vcov()'s `tol` and nothing else: a misspelt argument is an
  # error naming it, not R's "unused argument" from deep inside
  dots <- list(...)
  if (length(dots)) {
    nm <- names(dots)
    if (is.null(nm)) nm <- character(length(dots))
    other <- which(nm != "tol")
    if (length(other))
      stop(sprintf("Unknown argument %s: confint() of a fit takes `parm`, `level` and `tol`.",
                   if (nzchar(nm[other[1L]])) sprintf("`%s`", nm[other[1L]]) else "(an unnamed argument)"),
           call. = FALSE)
  }
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
  level <- check_level(level, "level")
  info <- information_inverse(object, ...)
  if (info$singular) warn_singular(info)
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

# ---- anova ---------------------------------------------------------------------

#' Compare nested mixture-of-experts fits by F tests
#'
#' An analysis-of-variance table for two or more fits of the same data, as
#' [stats::anova()] gives for [stats::nls()] fits: the fits are ordered by
#' their residual degrees of freedom (the smallest model first) and each is
#' compared with the one before it by
#' \deqn{F = \frac{(SSE_{j-1} - SSE_j) / (P_j - P_{j-1})}{SSE_j / (n - P_j)},}{F = ((SSE[j-1] - SSE[j]) / (P[j] - P[j-1])) / (SSE[j] / (n - P[j])),}
#' referred to an F distribution on \eqn{P_j - P_{j-1}}{P[j] - P[j-1]} and
#' \eqn{n - P_j}{n - P[j]} degrees of freedom. For weighted fits the sums of
#' squares are the weighted ones ([deviance()][deviance.moe_fit]).
#'
#' The F reference distribution is that of regular nested models (the smaller
#' model a subspace of the larger one, in its interior, with an identified
#' information). **Fits with k and k + 1 experts are not regular nested
#' models**: the k-expert model is reached on the boundary of the larger one
#' (a gate or an expert that vanishes) or where its parameters are not
#' identified (two atoms that merge, whatever their split), so the
#' likelihood-ratio and F statistics do not follow their usual
#' distributions, and the p-value in the table is not valid for choosing the
#' number of experts. `anova()` still computes the table as `anova()` of
#' [stats::nls()] fits does, and says so in its heading; to choose k, compare
#' information criteria ([moe_select()], [stats::AIC()], [stats::BIC()]). The
#' F test is meaningful for fits with the same experts that differ in regular
#' ways, such as an input added to the formula.
#'
#' @param object A `moe_fit` object from [moe_fit()] or [moe()].
#' @param ... Further `moe_fit` objects, fitted to the same data (the same
#'   responses, observations and weights).
#' @returns An object of class `c("anova", "data.frame")` with one row per
#'   fit and columns `Res.Df`, `Res.Sum Sq`, `Df`, `Sum Sq`, `F value` and
#'   `Pr(>F)`, and a heading naming the models.
#' @seealso [moe_select()] to choose the number of experts.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' d$x2 <- rnorm(300)
#' fit1 <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' fit2 <- moe(y ~ x1 + x2, data = d, k = 2, nstart = 3)
#' anova(fit1, fit2)
#' # k = 1 against k = 2: the table is computed, its p-value is not valid
#' anova(update(fit1, k = 1), fit1)
#' @export
anova.moe_fit <- function(object, ...) {
  fits <- list(object, ...)
  labels <- arg_labels(as.list(substitute(list(object, ...)))[-1L])
  check_fit(object)
  named <- names(fits)
  if (!is.null(named) && any(nzchar(named[-1L]))) {
    extra <- named[-1L][nzchar(named[-1L])][1L]
    stop(sprintf("Unknown argument `%s`: anova() of mixture-of-experts fits takes only fits.",
                 extra), call. = FALSE)
  }
  if (length(fits) < 2L)
    stop(paste0("anova() compares two or more fits of the same data, as in anova(fit1, fit2); ",
                "for one fit see summary()."), call. = FALSE)
  for (i in seq_along(fits)[-1L]) {
    fi <- fits[[i]]
    if (!inherits(fi, "moe_fit"))
      stop(sprintf("`%s` must be a `moe_fit` object, not %s.", labels[i], describe_value(fi)),
           call. = FALSE)
    check_fit(fi, labels[i])
    check_same_data(fi, object, labels[i], labels[1L])
  }
  df.r <- vapply(fits, function(f) as.numeric(f$df.residual), numeric(1))
  # the smallest model first; ties keep the order given
  o <- order(df.r, decreasing = TRUE)
  fits <- fits[o]
  labels <- labels[o]
  nmodels <- length(fits)
  # the table of stats:::anovalist.nls, entry for entry
  df.r <- df.r[o]
  ss.r <- vapply(fits, function(f) as.numeric(f$sse), numeric(1))
  df <- c(NA, -diff(df.r))
  ss <- c(NA, -diff(ss.r))
  ms <- ss / df
  f <- p <- rep_len(NA_real_, nmodels)
  for (i in 2:nmodels) {
    if (df[i] > 0) {
      f[i] <- ms[i] / (ss.r[i] / df.r[i])
      p[i] <- stats::pf(f[i], df[i], df.r[i], lower.tail = FALSE)
    } else if (df[i] < 0) {
      f[i] <- ms[i] / (ss.r[i - 1L] / df.r[i - 1L])
      p[i] <- stats::pf(f[i], -df[i], df.r[i - 1L], lower.tail = FALSE)
    } else {
      ss[i] <- 0
    }
  }
  table <- data.frame(df.r, ss.r, df, ss, f, p)
  dimnames(table) <- list(seq_len(nmodels), c("Res.Df", "Res.Sum Sq", "Df", "Sum Sq",
                                               "F value", "Pr(>F)"))
  models <- vapply(fits, anova_model_label, character(1))
  topnote <- paste0("Model ", format(seq_len(nmodels)), " (", labels, "): ", models,
                    collapse = "\n")
  heading <- c("Analysis of Variance Table\n", topnote)
  ks <- vapply(fits, function(f) as.integer(f$k), integer(1))
  if (length(unique(ks)) > 1L)
    heading <- c(heading, paste0("\n", paste(strwrap(paste0(
      "Note: fits with different numbers of experts are not regular nested models (the ",
      "smaller one lies on the boundary of the larger, where its parameters are not ",
      "identified), so the F distribution and the p-value do not hold for them; compare ",
      "AIC or BIC instead (see ?anova.moe_fit)."), width = 80L), collapse = "\n"), "\n"))
  structure(table, heading = heading, class = c("anova", "data.frame"))
}

# Fits compared by anova() must be of the same data: the same responses, the
# same observations and the same weights.
check_same_data <- function(fit, ref, label, ref_label) {
  if (!identical(as.integer(fit$nobs), as.integer(ref$nobs)) || length(fit$y) != length(ref$y))
    stop(sprintf(paste0("`%s` was fitted to n = %d observations but `%s` to n = %d; anova() ",
                        "compares fits of the same data."), label, as.integer(fit$nobs),
                 ref_label, as.integer(ref$nobs)), call. = FALSE)
  if (!isTRUE(all.equal(unname(fit$y), unname(ref$y), tolerance = 0)))
    stop(sprintf(paste0("`%s` has a different response from `%s`; anova() compares fits of the ",
                        "same data."), label, ref_label), call. = FALSE)
  if (is.null(fit$weights) != is.null(ref$weights) ||
      !is.null(fit$weights) && !isTRUE(all.equal(fit$weights, ref$weights, tolerance = 0)))
    stop(sprintf(paste0("`%s` was fitted with other weights than `%s`; anova() compares fits ",
                        "of the same data with the same weights."), label, ref_label),
         call. = FALSE)
  invisible(fit)
}

# How the user wrote each argument, for messages; an argument passed as a
# value (do.call) is named by its place, `object` or `..i`, not deparsed.
arg_labels <- function(exprs) {
  vapply(seq_along(exprs), function(i) {
    e <- exprs[[i]]
    if (is.name(e) || is.call(e)) {
      txt <- deparse1(e)
      if (nchar(txt) <= 60L) return(txt)
    }
    if (i == 1L) "object" else sprintf("..%d", i - 1L)
  }, character(1))
}

# "y ~ x1 + x2, 2 relu experts, sigmoid gate, 8 parameters"
anova_model_label <- function(fit) {
  lhs <- if (!is.null(fit$formula)) deparse1(fit$formula)
         else sprintf("x = %s, y = %s", deparse1(fit$call$x), deparse1(fit$call$y))
  sprintf("%s, %d %s expert%s, %s gate, %d parameters", lhs, as.integer(fit$k),
          expert_label(fit$expert, fit$degree), if (fit$k == 1L) "" else "s",
          sub("_", " ", fit$gating), as.integer(fit$npar))
}
