# Methods of the fit object (class "moe_fit", R/fit.R) that make it behave
# like an lm/nls fit: print, summary, coef, fitted, residuals, logLik (and so
# AIC/BIC), nobs, deviance, sigma, df.residual, simulate, formula, model.frame (update()
# works through the stored call). vcov, confint and anova are in
# R/inference.R, predict in R/predict.R, plot and autoplot in R/plot.R, the
# broom verbs in R/tidy.R, the choice of k in R/select.R.

# ---- print ----------------------------------------------------------------

#' Print and summarise a mixture-of-experts fit
#'
#' `print()` shows the call, the model, the SSE, the residual standard error,
#' the convergence of the best start and the fitted mixing measure: one row
#' per atom with its mean gate, gating and expert parameters. The mean gate
#' of expert i is the average of its gate over the fitted inputs,
#' \eqn{\frac1n \sum_j g_i(X_j)}{(1/n) sum_j g_i(X_j)} (that is
#' `colMeans(moe_gates(coef(x), x$x))`), the share of the data the expert
#' carries. It replaces the atom weight \eqn{\sigma(\beta_{0i})}{sigma(beta0_i)}
#' or \eqn{\exp(\beta_{0i})}{exp(beta0_i)} that the print of a [moe_params()]
#' object shows: that weight is the (for softmax unnormalised) gate at x = 0,
#' which may lie far from the data and then says nothing about the fit.
#'
#' `summary()` adds Wald inference on the free parameters \eqn{\theta}:
#' estimates, standard errors from [vcov()][vcov.moe_fit], t values and
#' two-sided p-values on the residual degrees of freedom, and a summary of the
#' starts.
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
#'   parameter), `convergence` and `starts` (`n`, `user`, `data`, `moves`
#'   (a table of the default search's moves by kind: `"swap"`, `"cross"`,
#'   `"jump"`), `converged`, `best_sse` (the SSE of the fit), `n_best`: how many of the
#'   `n_compared` starts that competed for the minimum reached the best SSE
#'   within `tol` relative, `control$agree_tol`; a search that screens its
#'   starts on a subsample compares them there).
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
  digits <- check_digits(digits)
  check_fit(x, "x")
  cat("Mixture-of-experts fit by least squares\n")
  cat("Call: ", paste(deparse(x$call, width.cutoff = 500L), collapse = "\n  "), "\n", sep = "")
  cat(model_line(x), "\n", sep = "")
  cat(sprintf("SSE: %s on %d residual degrees of freedom, sigma: %s\n",
              format(x$sse, digits = digits), as.integer(x$df.residual),
              format(sigma.moe_fit(x), digits = digits)))
  cat(convergence_line(x), "\n", sep = "")
  if (any(x$at_bound)) cat("At a bound of the box: ", bound_list(x), "\n", sep = "")
  cat("\nFitted mixing measure:\n")
  print(fit_params_table(x), digits = digits)
  cat("mean gate: the average of each expert's gate over the fitted data\n")
  reference_note(x$gating, x$k)
  invisible(x)
}

# The atoms of a fit with their mean gate over the data in place of the
# mixing measure's weight: sigma(beta0) or exp(beta0) is the gate at x = 0,
# which may lie far from the data (exp(28) on MASS::mcycle's times), while the
# mean gate says how much of the fitted data each expert carries.
fit_params_table <- function(x) {
  tab <- params_table(x$coefficients)
  tab$weight <- colMeans(model_eval(x$coefficients, x$x, components = TRUE)$gates)
  names(tab)[names(tab) == "weight"] <- "mean gate"
  tab
}

model_line <- function(x) {
  sprintf("Model: %d %s expert%s, %s gate, d = %d input%s, n = %d, %d free parameters",
          x$k, expert_label(x$expert, x$degree), if (x$k == 1L) "" else "s", sub("_", " ", x$gating), x$d,
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
  check_fit(object)
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
  agree <- start_agreement(object)
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
    at_bound = info$at_bound,
    bounds = if (any(info$at_bound)) bound_list(object) else NULL,
    convergence = object$convergence[c("code", "message", "converged", "iterations",
                                       "evaluations")],
    starts = list(n = nrow(st), user = sum(st$source == "user"),
                  data = sum(st$source == "data"),
                  # the search's moves ("swap", "cross", "jump"), by kind
                  moves = table(st$source[!st$source %in% c("user", "data")]),
                  converged = sum(st$converged),
                  best_sse = object$sse, n_best = agree$n_best, n_compared = agree$n,
                  tol = agree$tol)
  ), class = "summary.moe_fit")
}

# How many starts competed for the minimum and how many of them reached it:
# the fit's own diagnostics when its search recorded them (a screening search
# compares its starts on a subsample, whose SSEs must not be mixed with those
# on all the data), else every start, all on the data.
start_agreement <- function(fit) {
  dg <- fit$diagnostics
  tol <- if (is.null(fit$control$agree_tol)) 1e-6 else fit$control$agree_tol
  if (!is.null(dg$n_starts) && !is.null(dg$n_best))
    return(list(n = as.integer(dg$n_starts), n_best = as.integer(dg$n_best), tol = tol))
  sse <- fit$starts$sse
  sse <- sse[is.finite(sse)]
  list(n = nrow(fit$starts), n_best = sum(near_best(sse, min(sse), tol)), tol = tol)
}

#' @rdname summary.moe_fit
#' @export
print.summary.moe_fit <- function(x, digits = max(3L, getOption("digits") - 3L),
                                  signif.stars = getOption("show.signif.stars", TRUE), ...) {
  digits <- check_digits(digits)
  signif.stars <- check_flag(signif.stars, "signif.stars")
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
  moves <- if (length(s$moves))
    sprintf(", %d from search moves (%s)", sum(s$moves),
            paste(as.vector(s$moves), names(s$moves), collapse = ", "))
  else ""
  cat(sprintf(paste0("Starts: %d (%d user, %d data-driven%s), %d converged; best SSE %s, ",
                     "reached by %d of %d (within %s relative)\n"),
              s$n, s$user, s$data, moves, s$converged, format(s$best_sse, digits = digits),
              s$n_best, s$n_compared, format(s$tol)))
  at_bound <- if (is.null(x$at_bound)) logical(length(x$estimable)) else x$at_bound
  if (x$singular) {
    unident <- sum(!x$estimable & !at_bound)
    cat(sprintf(paste0("\nNote: the information J'J is singular (numerical rank %d of %d), ",
                       "usually because the model is over-specified; the %d parameter%s ",
                       "in unidentified directions %s NA standard errors.\n"),
                x$rank, sum(!at_bound), unident, if (unident == 1L) "" else "s",
                if (unident == 1L) "has" else "have"))
  }
  if (any(at_bound))
    cat(sprintf(paste0("\nNote: %d parameter%s ended at a bound of the box (%s); %s NA ",
                       "standard errors, since a Wald interval would leave the box.\n"),
                sum(at_bound), if (sum(at_bound) == 1L) "" else "s", x$bounds,
                if (sum(at_bound) == 1L) "it has" else "they have"))
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
#'   [stats::confint.default()] but with the t quantile, cut at the box of a
#'   fit with `lower`/`upper` (an interval does not leave the parameter set
#'   the fit was restricted to). A parameter at a bound has no interval (`NA`).
#' * `simulate()`: `nsim` response vectors drawn from the fitted model with
#'   Gaussian errors, \eqn{f_{\hat G}(X_i) + \hat\sigma \epsilon_i /
#'   \sqrt{w_i}}{f_Ghat(X_i) + sigma e_i / sqrt(w_i)} (\eqn{w_i = 1}{w_i = 1}
#'   without weights), as [stats::simulate()] draws them for an `lm` fit: a
#'   data frame with one column per draw (`NA` at rows of weight 0 and at rows
#'   that `na.exclude` dropped) and the attribute `seed`. Refitting each
#'   column gives a parametric bootstrap.
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
#'   of class `logLik` with attributes `df` and `nobs`. `simulate()`: a data
#'   frame of n rows and `nsim` columns. `vcov()`: a P x P
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
#' head(simulate(fit, nsim = 2, seed = 1))
#' sqrt(diag(vcov(fit)))
#' confint(fit, c("a[1,1]", "a[2,1]"))
#' # one more expert than the truth: the information is singular
#' fit3 <- update(fit, k = 3)
#' AIC(fit, fit3)
#' @name moe_fit-methods
#' @order 1
NULL

#' @rdname moe_fit-methods
#' @export
coef.moe_fit <- function(object, type = c("params", "theta"), ...) {
  type <- check_choice_arg(type, c("params", "theta"), "type")
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
  type <- check_choice_arg(type, c("response", "pearson"), "type")
  r <- object$residuals
  if (type == "pearson") {
    if (!is.null(object$weights)) r <- r * sqrt(object$weights)
    r <- r / sigma.moe_fit(object)
  }
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
  # Gaussian errors of variance sigma^2 / w_i, as stats:::logLik.nls
  w <- object$weights
  logw <- if (is.null(w)) 0 else sum(log(w[w > 0]))
  structure(-n / 2 * (log(2 * pi * object$sse / n) + 1) + logw / 2,
            df = object$npar + 1L, nobs = n, class = "logLik")
}

#' @rdname moe_fit-methods
#' @param nsim Number of response vectors to draw, a whole number >= 1.
#' @param seed `NULL`, or a number for [set.seed()] to draw with (the
#'   session's random number stream is restored afterwards), as for
#'   [stats::simulate()].
#' @export
simulate.moe_fit <- function(object, nsim = 1, seed = NULL, ...) {
  check_fit(object)
  nsim <- check_whole(nsim, "nsim", min = 1, max = 1e6)
  s <- sigma.moe_fit(object)
  if (!is.finite(s))
    stop(paste0("`object` has no residual degrees of freedom (as many free parameters as ",
                "observations): there is no estimate of the noise to draw from."), call. = FALSE)
  if (!is.null(seed) && !(is.numeric(seed) && length(seed) == 1L && is.finite(seed)))
    abort_arg("seed", "NULL or a single number for set.seed()", seed)
  # the state the draws start from, as stats::simulate() records it
  if (!exists(".Random.seed", envir = globalenv(), inherits = FALSE)) stats::runif(1)
  if (is.null(seed)) {
    state <- get(".Random.seed", envir = globalenv())
  } else {
    saved <- rng_save()
    on.exit(rng_restore(saved))
    set.seed(seed)
    state <- structure(seed, kind = as.list(RNGkind()))
  }
  # the noise's standard deviation per row: sigma / sqrt(w); a row of weight
  # 0 says nothing about its variance
  w <- object$weights
  sd_row <- if (is.null(w)) rep(s, length(object$y)) else ifelse(w > 0, s / sqrt(w), NA_real_)
  sd_row <- stats::napredict(object$na.action, sd_row)
  mu <- fitted.moe_fit(object)
  n <- length(mu)
  draws <- matrix(mu + sd_row * stats::rnorm(n * nsim), n, nsim)
  out <- as.data.frame(draws)
  names(out) <- paste0("sim_", seq_len(nsim))
  if (!is.null(names(mu))) row.names(out) <- names(mu)
  attr(out, "seed") <- state
  out
}

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
  # a call without na.action took the session's, whose rows the fit records
  if (is.null(fcall$na.action))
    fcall$na.action <- if (is.null(fit$na.action)) quote(stats::na.pass) else quote(stats::na.omit)
  fcall[[1L]] <- quote(stats::model.frame)
  fcall$xlev <- fit$xlevels
  fcall$formula <- fit$terms
  env <- environment(fit$terms)
  if (is.null(env)) env <- parent.frame()
  eval(fcall, env)
}

# The generics the methods above register against, so that registration does
# not depend on stats being attached.
#' @importFrom stats anova coef confint deviance df.residual fitted formula logLik
#' @importFrom stats model.frame nobs predict residuals sigma simulate vcov
NULL
