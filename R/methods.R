# Methods of the fit object (class "moe_fit", R/fit.R) that make it behave
# like an lm/nls fit: print, summary, coef, fitted, residuals, predict, plot,
# logLik (and so AIC/BIC), nobs, deviance, sigma, df.residual, vcov, confint,
# formula, model.frame (update() works through the stored call).

# ---- print ----------------------------------------------------------------

#' Print and summarise a mixture-of-experts fit
#'
#' `print()` shows the call, the model, the SSE, the residual standard error,
#' the convergence of the best start and the fitted mixing measure (one row
#' per atom: weight, gating and expert parameters). `summary()` adds Wald
#' inference on the free parameters \eqn{\theta}: estimates, standard errors
#' from [vcov()][vcov.moe_fit], t values and two-sided p-values on the
#' residual degrees of freedom, and a summary of the starts.
#'
#' The standard errors are the usual nonlinear least-squares ones,
#' \eqn{\hat\sigma^2 (J^\top J)^{-1}}{sigma^2 (J'J)^-1}, and rest on the model
#' being identified at the fit. When the information \eqn{J^\top J}{J'J} is
#' singular, which is the rule for an over-specified model (more experts than
#' the truth), the parameters whose direction is not identified get `NA` and
#' the summary says so (see [vcov.moe_fit()]).
#'
#' @param x,object A `moe_fit` object from [moe_fit()] or [moe()]; for
#'   `print.summary.moe_fit()` a `summary.moe_fit` object.
#' @param digits Number of significant digits to print.
#' @param signif.stars Whether to show significance stars, as in
#'   [stats::printCoefmat()].
#' @param ... Not used.
#' @returns `print()` returns its argument invisibly. `summary()` returns an
#'   object of class `summary.moe_fit`, a list with `call`, `model` (gate,
#'   expert, degree, k, d), `coefficients` (a matrix with columns `Estimate`,
#'   `Std. Error`, `t value`, `Pr(>|t|)`, one row per free parameter), `sigma`,
#'   `df` (residual degrees of freedom), `sse`, `nobs`, `npar`, `logLik`,
#'   `rank` (of the information), `singular`, `estimable` (logical, per
#'   parameter), `convergence` and `starts` (`n`, `user`, `data`,
#'   `converged`, `best_sse`, `n_best`: how many starts reached the best SSE
#'   within 1e-6 relative).
#' @seealso [moe_fit-methods] for the accessors, [predict.moe_fit()],
#'   [plot.moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' fit
#' s <- summary(fit)
#' s
#' s$coefficients
#' @name summary.moe_fit
NULL

#' @rdname summary.moe_fit
#' @export
print.moe_fit <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("Mixture-of-experts fit by least squares\n")
  cat("Call: ", paste(deparse(x$call, width.cutoff = 500L), collapse = "\n  "), "\n", sep = "")
  cat(model_line(x), "\n", sep = "")
  cat(sprintf("SSE: %s on %d residual degrees of freedom, sigma: %s\n",
              format(x$sse, digits = digits), as.integer(x$df.residual),
              format(sigma.moe_fit(x), digits = digits)))
  cat(convergence_line(x), "\n", sep = "")
  cat("\nFitted mixing measure:\n")
  print(params_table(x$coefficients), digits = digits)
  if (x$gating == "softmax") cat("(expert ", x$k, " is the softmax reference)\n", sep = "")
  invisible(x)
}

model_line <- function(x) {
  ex <- if (x$expert == "polynomial") sprintf("polynomial (degree %d)", x$degree) else x$expert
  sprintf("Model: %d %s expert%s, %s gate, d = %d input%s, n = %d, %d free parameters",
          x$k, ex, if (x$k == 1L) "" else "s", sub("_", " ", x$gating), x$d,
          if (x$d == 1L) "" else "s", as.integer(x$nobs), as.integer(x$npar))
}

convergence_line <- function(x) {
  cv <- x$convergence
  sprintf("Convergence: %s (code %d) after %d iteration%s; best of %d start%s",
          cv$message, as.integer(cv$code), as.integer(cv$iterations),
          if (cv$iterations == 1L) "" else "s", nrow(x$starts),
          if (nrow(x$starts) == 1L) "" else "s")
}

# ---- summary ----------------------------------------------------------------

#' @rdname summary.moe_fit
#' @export
summary.moe_fit <- function(object, ...) {
  info <- information_inverse(object)
  est <- object$theta
  se <- sqrt(pmax(diag(info$inverse), 0)) * sigma.moe_fit(object)
  se[!info$estimable] <- NA_real_
  tval <- est / se
  df <- object$df.residual
  pval <- 2 * stats::pt(abs(tval), df, lower.tail = FALSE)
  coefs <- cbind(Estimate = est, `Std. Error` = se, `t value` = tval, `Pr(>|t|)` = pval)
  rownames(coefs) <- names(est)
  st <- object$starts
  ok <- is.finite(st$sse)
  best <- min(st$sse[ok])
  structure(list(
    call = object$call,
    model = list(gating = object$gating, expert = object$expert, degree = object$degree,
                 k = object$k, d = object$d),
    model_line = model_line(object),
    coefficients = coefs,
    sigma = sigma.moe_fit(object),
    df = df,
    sse = object$sse,
    nobs = object$nobs,
    npar = object$npar,
    logLik = logLik.moe_fit(object),
    rank = info$rank,
    singular = info$singular,
    estimable = info$estimable,
    convergence = object$convergence[c("code", "message", "converged", "iterations",
                                       "evaluations")],
    starts = list(n = nrow(st), user = sum(st$source == "user"),
                  data = sum(st$source == "data"), converged = sum(st$converged),
                  best_sse = best, n_best = sum(reached_best(st$sse[ok], best)))
  ), class = "summary.moe_fit")
}

# Starts whose SSE equals the best one within 1e-6 relative.
reached_best <- function(sse, best) {
  abs(sse - best) <= 1e-6 * max(abs(best), .Machine$double.xmin)
}

#' @rdname summary.moe_fit
#' @export
print.summary.moe_fit <- function(x, digits = max(3L, getOption("digits") - 3L),
                                  signif.stars = getOption("show.signif.stars"), ...) {
  cat("Call:\n", paste(deparse(x$call, width.cutoff = 500L), collapse = "\n"), "\n\n", sep = "")
  cat(x$model_line, "\n\n", sep = "")
  cat("Free parameters:\n")
  stats::printCoefmat(x$coefficients, digits = digits, signif.stars = signif.stars,
                      na.print = "NA")
  cat(sprintf("\nResidual standard error: %s on %d degrees of freedom\n",
              format(x$sigma, digits = digits), as.integer(x$df)))
  ll <- x$logLik
  cat(sprintf("SSE: %s, log-likelihood: %s (df = %d), AIC: %s, BIC: %s\n",
              format(x$sse, digits = digits), format(c(ll), digits = digits),
              as.integer(attr(ll, "df")),
              format(-2 * c(ll) + 2 * attr(ll, "df"), digits = digits),
              format(-2 * c(ll) + log(x$nobs) * attr(ll, "df"), digits = digits)))
  cv <- x$convergence
  cat(sprintf("Convergence: code %d, %s; %d iteration%s, %d SSE evaluations\n",
              as.integer(cv$code), cv$message, as.integer(cv$iterations),
              if (cv$iterations == 1L) "" else "s", as.integer(cv$evaluations)))
  s <- x$starts
  cat(sprintf(paste0("Starts: %d (%d user, %d data-driven), %d converged; best SSE %s, ",
                     "reached by %d of %d (within 1e-6 relative)\n"),
              s$n, s$user, s$data, s$converged, format(s$best_sse, digits = digits),
              s$n_best, s$n))
  if (x$singular)
    cat(sprintf(paste0("\nNote: the information J'J is singular (numerical rank %d of %d), ",
                       "usually because the model is over-specified; the %d parameter%s ",
                       "in unidentified directions %s NA standard errors.\n"),
                x$rank, x$npar, sum(!x$estimable), if (sum(!x$estimable) == 1L) "" else "s",
                if (sum(!x$estimable) == 1L) "has" else "have"))
  invisible(x)
}

# ---- accessors --------------------------------------------------------------

#' Accessors and inference for a mixture-of-experts fit
#'
#' Methods of the `moe_fit` class (from [moe_fit()] or [moe()]) for the
#' generics of \pkg{stats}, so that a fit answers the questions an
#' [stats::lm()] or [stats::nls()] fit answers.
#'
#' * `coef()`: the fitted mixing measure, a [moe_params()] object; with
#'   `type = "theta"` the named vector of free parameters \eqn{\theta} (the
#'   element `fit$theta`), in the order of [moe_jacobian()]'s columns.
#' * `fitted()`, `residuals()`: \eqn{f_{\hat G}(X_i)}{f_Ghat(X_i)} and
#'   \eqn{Y_i - f_{\hat G}(X_i)}{Y_i - f_Ghat(X_i)} (`type = "pearson"` divides
#'   by `sigma()`). Fits from [moe()] with `na.action = na.exclude` pad them
#'   with `NA`.
#' * `nobs()` n; `deviance()` the SSE; `df.residual()` n - P with P the
#'   number of free parameters; `sigma()` \eqn{\sqrt{SSE / (n - P)}}{sqrt(SSE / (n - P))}
#'   (`NaN` when n = P).
#' * `logLik()`: the Gaussian log-likelihood at the least-squares fit and the
#'   maximum-likelihood variance \eqn{SSE / n},
#'   \eqn{-\frac n2 (\log(2\pi\, SSE / n) + 1)}{-n/2 (log(2 pi SSE / n) + 1)},
#'   with P + 1 degrees of freedom (the variance counts), so that
#'   [stats::AIC()] and [stats::BIC()] work.
#' * `vcov()`: \eqn{\hat\sigma^2 (J^\top J)^{-1}}{sigma^2 (J'J)^-1}, with J
#'   the Jacobian of the regression function at the fit (the Gauss-Newton
#'   information `fit$jtj`).
#' * `confint()`: Wald intervals \eqn{\hat\theta_j \pm t_{n-P}\,
#'   \mathrm{se}_j}{theta_j +- qt(., n - P) se_j}, as
#'   [stats::confint.default()] but with the t quantile.
#' * `formula()`, `model.frame()`: for fits from [moe()]; [stats::update()]
#'   works for both kinds of fit through the stored call.
#'
#' @section Singular information:
#' The information \eqn{J^\top J}{J'J} is first scaled to unit diagonal (so
#' that the units of the parameters do not matter); a column whose norm is
#' below machine precision times the largest is treated as zero (for example
#' a ReLU expert that is off on every row). When the smallest eigenvalue of
#' the scaled information is below `tol` times the largest, the information
#' is singular for practical purposes, as it is for over-specified models
#' (several fitted atoms for one true atom, or surplus atoms that died out):
#' `vcov()` then uses the pseudo-inverse of the scaled information (the
#' eigenvalues below the tolerance count as zero) and gives a warning of
#' class `sigmoe_singular_information`. The variances of the unidentified
#' directions are then not meaningful: a parameter whose coordinate vector
#' has a component (of norm above 1e-4) in the dropped eigenspace is not
#' estimable, and `summary()` and `confint()` give it `NA`.
#'
#' @param object A `moe_fit` object.
#' @param type For `coef()`: `"params"` (the fitted [moe_params()]) or
#'   `"theta"` (the free-parameter vector). For `residuals()`: `"response"`
#'   or `"pearson"`.
#' @param tol Relative tolerance on the eigenvalues of the scaled information
#'   below which a direction counts as unidentified; the default,
#'   `sqrt(.Machine$double.eps)`, is the usual cut-off of a pseudo-inverse
#'   (as in `MASS::ginv()`): directions kept below it would carry rounding
#'   error amplified by the square of the condition number.
#' @param parm Parameters for the intervals: names or indices of
#'   `coef(object, type = "theta")`; all by default.
#' @param level Confidence level, a number in (0, 1).
#' @param ... For `confint()`: `tol`, as for `vcov()`; otherwise not used.
#' @returns `coef()`: a `moe_params` object or a named numeric vector.
#'   `fitted()`, `residuals()`: numeric vectors of length n. `nobs()`,
#'   `deviance()`, `sigma()`, `df.residual()`: numbers. `logLik()`: an object
#'   of class `logLik` with attributes `df` and `nobs`. `vcov()`: a P x P
#'   matrix named by the free parameters. `confint()`: a matrix with one row
#'   per parameter and columns for the lower and upper limits. `formula()`: a
#'   formula. `model.frame()`: a data frame.
#' @seealso [summary.moe_fit()], [predict.moe_fit()], [plot.moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' coef(fit)
#' coef(fit, type = "theta")
#' c(n = nobs(fit), SSE = deviance(fit), sigma = sigma(fit))
#' logLik(fit)
#' AIC(fit); BIC(fit)
#' sqrt(diag(vcov(fit)))
#' confint(fit, c("a[1,1]", "a[2,1]"))
#' # one more expert than the truth: the information is singular
#' fit3 <- update(fit, k = 3)
#' AIC(fit, fit3)
#' @name moe_fit-methods
NULL

#' @rdname moe_fit-methods
#' @export
coef.moe_fit <- function(object, type = c("params", "theta"), ...) {
  type <- match.arg(type)
  if (type == "theta") object$theta else object$coefficients
}

#' @rdname moe_fit-methods
#' @export
fitted.moe_fit <- function(object, ...) {
  f <- object$fitted.values
  # a fit from moe() has the row names of the data on y, hence on the residuals
  if (is.null(names(f))) names(f) <- names(object$residuals)
  stats::napredict(object$na.action, f)
}

#' @rdname moe_fit-methods
#' @export
residuals.moe_fit <- function(object, type = c("response", "pearson"), ...) {
  type <- match.arg(type)
  r <- object$residuals
  if (type == "pearson") r <- r / sigma.moe_fit(object)
  stats::naresid(object$na.action, r)
}

#' @rdname moe_fit-methods
#' @export
nobs.moe_fit <- function(object, ...) object$nobs

#' @rdname moe_fit-methods
#' @export
deviance.moe_fit <- function(object, ...) object$sse

#' @rdname moe_fit-methods
#' @export
df.residual.moe_fit <- function(object, ...) object$df.residual

#' @rdname moe_fit-methods
#' @export
sigma.moe_fit <- function(object, ...) {
  df <- object$df.residual
  if (df > 0) sqrt(object$sse / df) else NaN
}

#' @rdname moe_fit-methods
#' @export
logLik.moe_fit <- function(object, ...) {
  n <- object$nobs
  structure(-n / 2 * (log(2 * pi * object$sse / n) + 1),
            df = object$npar + 1L, nobs = n, class = "logLik")
}

# ---- vcov, confint ----------------------------------------------------------

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

is_whole_vec <- function(x) is.finite(x) & abs(x - round(x)) < 1e-8

# ---- formula, model frame -----------------------------------------------------

#' @rdname moe_fit-methods
#' @param x A `moe_fit` object (for `formula()`).
#' @export
formula.moe_fit <- function(x, ...) {
  if (is.null(x$formula))
    stop(paste0("`x` was fitted by moe_fit(x, y), which has no formula; ",
                "fit with moe(formula, data) to get one."), call. = FALSE)
  x$formula
}

#' @rdname moe_fit-methods
#' @param formula A `moe_fit` object (for `model.frame()`).
#' @export
model.frame.moe_fit <- function(formula, ...) {
  fit <- formula
  if (is.null(fit$terms)) {
    out <- data.frame(y = fit$y, fit$x, check.names = FALSE)
    names(out) <- c("y", fit$xnames)
    return(out)
  }
  fcall <- fit$call
  m <- match(c("formula", "data", "subset", "na.action"), names(fcall), 0L)
  fcall <- fcall[c(1L, m)]
  fcall$drop.unused.levels <- TRUE
  if (is.null(fcall$na.action)) fcall$na.action <- quote(stats::na.pass)
  fcall[[1L]] <- quote(stats::model.frame)
  fcall$xlev <- fit$xlevels
  fcall$formula <- fit$terms
  env <- environment(fit$terms)
  if (is.null(env)) env <- parent.frame()
  eval(fcall, env)
}

# ---- predict --------------------------------------------------------------------

#' Predictions from a mixture-of-experts fit
#'
#' The fitted regression function \eqn{f_{\hat G}}{f_Ghat}, or its gates
#' \eqn{g_i} or experts \eqn{h(a_i^\top x + b_i)}, at the training inputs or
#' at new ones.
#'
#' For a fit from [moe()], `newdata` is a data frame (or list) holding the
#' variables of the right-hand side of the formula, in any order; factors
#' take the levels seen in the fit. For a fit from `moe_fit(x, y)`,
#' `newdata` is a numeric matrix or data frame: when it has columns with the
#' names of the training inputs (`colnames(x)`, or `x1`..`xd` when `x` had
#' none) those are used, in that order, otherwise it must have exactly d
#' numeric columns, taken in order. A numeric vector is accepted when d = 1.
#' Inputs must be finite.
#'
#' @param object A `moe_fit` object from [moe_fit()] or [moe()].
#' @param newdata New inputs (see Details). If missing, the training inputs
#'   are used and `type = "response"` gives `fitted(object)`.
#' @param type `"response"` (the regression function), `"gates"` (the n x k
#'   matrix of gate values, as [moe_gates()]) or `"experts"` (the n x k matrix
#'   of expert outputs before gating, as [moe_experts()]).
#' @param ... Not used.
#' @returns For `type = "response"` a numeric vector with one value per row;
#'   otherwise a matrix with one row per row of inputs and one column per
#'   expert (`expert1`, ..., `expertk`).
#' @seealso [moe_mean()], [moe_gates()], [moe_experts()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' new <- data.frame(x1 = c(-0.5, 0, 0.5))
#' predict(fit, new)
#' predict(fit, new, type = "gates")
#' # the same from a matrix fit
#' fit2 <- moe_fit(d$x1, d$y, k = 2, nstart = 3)
#' predict(fit2, c(-0.5, 0, 0.5))
#' @export
predict.moe_fit <- function(object, newdata, type = c("response", "gates", "experts"), ...) {
  type <- match.arg(type)
  if (missing(newdata) || is.null(newdata)) {
    if (type == "response") return(fitted.moe_fit(object))
    x <- object$x
  } else {
    x <- newdata_matrix(object, newdata)
  }
  comp <- model_components(object$coefficients, x, arg = "newdata")
  switch(type, response = comp$f, gates = comp$gates, experts = comp$experts)
}

# The input matrix of newdata, checked against the fit.
newdata_matrix <- function(object, newdata) {
  x <- if (!is.null(object$terms)) newdata_formula(object, newdata) else newdata_plain(object, newdata)
  if (!is.double(x)) storage.mode(x) <- "double"
  bad <- which(!is.finite(x))
  if (length(bad)) {
    row <- (bad[1L] - 1L) %% nrow(x) + 1L
    col <- (bad[1L] - 1L) %/% nrow(x) + 1L
    cn <- colnames(x)
    stop(sprintf("`newdata` must have finite inputs; row %d%s is %s.", row,
                 if (is.null(cn)) sprintf(", column %d", col) else sprintf(" of \"%s\"", cn[col]),
                 format(x[bad[1L]])), call. = FALSE)
  }
  x
}

newdata_formula <- function(object, newdata) {
  if (is.list(newdata) && !is.data.frame(newdata)) newdata <- as.data.frame(newdata)
  if (!is.data.frame(newdata))
    abort_arg("newdata", "a data frame with the variables of the model formula", newdata)
  tt <- stats::delete.response(object$terms)
  vars <- all.vars(tt)
  absent <- setdiff(vars, names(newdata))
  if (length(absent)) {
    env <- environment(tt)
    absent <- absent[!vapply(absent, exists, logical(1), envir = if (is.null(env)) globalenv() else env)]
  }
  if (length(absent))
    stop(sprintf("`newdata` is missing the variable%s %s of the model formula.",
                 if (length(absent) > 1L) "s" else "", paste0("\"", absent, "\"", collapse = ", ")),
         call. = FALSE)
  mf <- tryCatch({
    mf <- stats::model.frame(tt, newdata, na.action = stats::na.pass, xlev = object$xlevels)
    cl <- attr(tt, "dataClasses")
    if (!is.null(cl)) stats::.checkMFClasses(cl, mf)
    mf
  }, error = function(e) {
    stop(sprintf("`newdata` does not match the variables of the fit: %s", conditionMessage(e)),
         call. = FALSE)
  })
  formula_design(tt, mf, xlev = object$xlevels, contrasts = object$contrasts)
}

newdata_plain <- function(object, newdata) {
  d <- object$d
  xn <- object$xnames
  if (is.data.frame(newdata) || is.matrix(newdata)) {
    cn <- colnames(newdata)
    if (!is.null(cn) && all(xn %in% cn)) {
      newdata <- newdata[, xn, drop = FALSE]
    } else if (ncol(newdata) != d) {
      stop(sprintf(paste0("`newdata` must have the model's %d input column%s (%s) or exactly %d ",
                          "column%s, not %d columns%s."), d, if (d == 1L) "" else "s",
                   paste0("\"", xn, "\"", collapse = ", "), d, if (d == 1L) "" else "s",
                   ncol(newdata),
                   if (is.null(cn)) "" else sprintf(" lacking %s", paste0("\"", setdiff(xn, cn), "\"",
                                                                           collapse = ", "))),
           call. = FALSE)
    }
    if (is.data.frame(newdata)) {
      num <- vapply(newdata, is.numeric, logical(1))
      if (!all(num))
        stop(sprintf("`newdata` must have numeric input columns; column \"%s\" is %s.",
                     names(newdata)[!num][1L], class(newdata[[which(!num)[1L]]])[1L]), call. = FALSE)
      newdata <- as.matrix(newdata)
    }
    if (!is.numeric(newdata)) abort_arg("newdata", "a numeric matrix or data frame", newdata)
    return(newdata)
  }
  if (is.numeric(newdata) && is.null(dim(newdata))) {
    if (d != 1L)
      stop(sprintf(paste0("`newdata` must be a matrix or data frame with d = %d columns; a vector ",
                          "is only accepted when d = 1, not a numeric vector of length %d."),
                   d, length(newdata)), call. = FALSE)
    return(matrix(newdata, ncol = 1L))
  }
  abort_arg("newdata", sprintf("a numeric matrix or data frame with d = %d columns", d), newdata)
}

# ---- plot -----------------------------------------------------------------------

#' Plot a mixture-of-experts fit
#'
#' For one input (d = 1) the default shows the data with the fitted
#' regression function and each gated expert \eqn{g_i(x) h(a_i x + b_i)}
#' (panel 1), and the gates \eqn{g_i(x)} (panel 2), side by side. For more
#' inputs it shows residuals against fitted values (panel 3) and a normal QQ
#' plot of the residuals (panel 4). The graphical parameters are restored on
#' exit.
#'
#' @param x A `moe_fit` object from [moe_fit()] or [moe()].
#' @param which Panels to draw, a subset of 1:4: 1 data, fit and gated
#'   experts and 2 gates (both only for d = 1), 3 residuals against fitted
#'   values, 4 normal QQ plot of the residuals. Default `c(1, 2)` for d = 1,
#'   `c(3, 4)` otherwise.
#' @param col Colours of the experts, one per expert (recycled); default
#'   [grDevices::hcl.colors()] with palette `"Dark 3"`.
#' @param legend Where to put the legends of panels 1 and 2: `"auto"` (a
#'   band kept free above the data and curves), a keyword of
#'   [graphics::legend()] such as `"topleft"`, or `FALSE` for none.
#' @param n_grid Number of grid points for the curves of panels 1 and 2.
#' @param ... Further graphical parameters for the data points, such as
#'   `pch` or `cex`.
#' @returns `x`, invisibly.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe_fit(d$x1, d$y, k = 2, nstart = 3)
#' plot(fit)
#' plot(fit, which = 3:4)
#' @export
plot.moe_fit <- function(x, which = NULL, col = NULL, legend = "auto", n_grid = 400L, ...) {
  fit <- x
  if (is.null(which)) which <- if (fit$d == 1L) c(1L, 2L) else c(3L, 4L)
  if (!is.numeric(which) || length(which) < 1L || !all(is_whole_vec(which)) ||
      !all(which %in% 1:4) || anyDuplicated(which))
    abort_arg("which", "distinct panel numbers among 1, 2, 3, 4", which)
  which <- as.integer(which)
  if (fit$d != 1L && any(which <= 2L))
    stop(sprintf("`which` = 1 and 2 (data and gates against x) need d = 1, but the fit has d = %d inputs.",
                 fit$d), call. = FALSE)
  if (!isFALSE(legend) && !(is.character(legend) && length(legend) == 1L))
    abort_arg("legend", "a legend position such as \"topleft\", or FALSE", legend)
  n_grid <- check_whole(n_grid, "n_grid", min = 2)
  k <- fit$k
  col <- if (is.null(col)) grDevices::hcl.colors(k, "Dark 3") else rep_len(col, k)
  if (length(which) > 1L) {
    op <- graphics::par(mfrow = c(1L, length(which)))
    on.exit(graphics::par(op), add = TRUE)
  }
  if (any(which <= 2L)) {
    xv <- fit$x[, 1L]
    grid <- seq(min(xv), max(xv), length.out = n_grid)
    comp <- model_components(fit$coefficients, grid)
    xlab <- fit$xnames[1L]
  }
  labels <- paste("expert", seq_len(k))
  for (w in which) {
    if (w == 1L) {
      yv <- fit$y
      gh <- comp$gates * comp$experts
      ylim <- legend_room(range(yv, comp$f, gh), legend, k + 1L)
      graphics::plot(range(xv), ylim, type = "n", xlab = xlab, ylab = "y",
                     main = "Data, fit and gated experts")
      graphics::points(xv, yv, col = grDevices::gray(0.6, 0.6), ...)
      # the fit first: where one expert dominates its gated output lies on
      # the fit, and drawn underneath it would vanish
      graphics::lines(grid, comp$f, lwd = 2)
      graphics::matlines(grid, gh, col = col, lty = 2, lwd = 2)
      if (!isFALSE(legend)) {
        labs <- as.expression(c(list("fit"), lapply(seq_len(k), function(i) bquote(g[.(i)] * h[.(i)]))))
        draw_legend(legend, labs, col = c("black", col), lty = c(1, rep(2, k)),
                    lwd = 2)
      }
    } else if (w == 2L) {
      graphics::matplot(grid, comp$gates, type = "l", col = col, lty = 1, lwd = 2,
                        ylim = legend_room(c(0, 1), legend, k), xlab = xlab, ylab = "gate",
                        main = sprintf("Gates (%s)", sub("_", " ", fit$gating)))
      if (!isFALSE(legend)) {
        draw_legend(legend, labels, col = col, lty = 1, lwd = 2)
      }
    } else if (w == 3L) {
      fv <- fit$fitted.values
      rv <- fit$residuals
      graphics::plot(fv, rv, xlab = "Fitted values", ylab = "Residuals",
                     main = "Residuals vs fitted", col = grDevices::gray(0.3, 0.6), ...)
      graphics::abline(h = 0, lty = 3)
    } else {
      rv <- fit$residuals
      stats::qqnorm(rv, main = "Normal Q-Q of residuals", ylab = "Residuals",
                    col = grDevices::gray(0.3, 0.6), ...)
      stats::qqline(rv, lty = 3)
    }
  }
  invisible(x)
}

# With legend = "auto" the legend goes in a band added above the data, at
# most 4 entries per row, so that it never hides points or curves.
legend_columns <- function(n) min(n, 4L)

legend_room <- function(ylim, legend, n) {
  if (!identical(legend, "auto")) return(ylim)
  rows <- ceiling(n / legend_columns(n))
  ylim + c(0, (0.04 + 0.07 * rows) * diff(ylim))
}

draw_legend <- function(legend, labels, ...) {
  if (identical(legend, "auto")) {
    graphics::legend("top", legend = labels, ncol = legend_columns(length(labels)),
                     bty = "n", cex = 0.8, ...)
  } else {
    graphics::legend(legend, legend = labels, bty = "n", cex = 0.8, ...)
  }
}

# The generics the methods above register against, so that registration does
# not depend on stats being attached.
#' @importFrom stats coef confint deviance df.residual fitted formula logLik
#' @importFrom stats model.frame nobs predict residuals sigma vcov
NULL
