# The broom verbs for a fit: tidy() (one row per free parameter), glance()
# (one row per fit) and augment() (one row per observation), registered on
# the generics of the generics package, which broom re-exports.

#' Tidy a mixture-of-experts fit
#'
#' Methods for the verbs of \pkg{broom} (defined in \pkg{generics}) that turn
#' a fit into data frames: `tidy()` gives one row per free parameter,
#' `glance()` one row for the whole fit, and `augment()` one row per
#' observation. They return base data frames; `library(broom)` or
#' `library(generics)` makes the verbs available, or call them as
#' `generics::tidy(fit)`.
#'
#' `tidy()`: the columns `estimate`, `std.error`, `statistic` (the t value)
#' and `p.value` are those of [summary()][summary.moe_fit], and so `NA` for a
#' parameter at a bound of the box or in a direction that the information
#' does not identify (see [vcov.moe_fit()]); `conf.low` and `conf.high` are
#' those of [confint()][confint.moe_fit], which warns in those cases. The
#' rows are the free parameters \eqn{\theta} in the order of
#' `coef(x, type = "theta")`; `expert` is the atom (expert) a parameter
#' belongs to, `block` its kind (`"beta0"`, `"beta1"`, `"a"` or `"b"`, as in
#' [moe_params()]) and `input` the input its slope multiplies (`NA` for the
#' intercepts `beta0` and `b`).
#'
#' `glance()`: `sigma`, `logLik`, `AIC`, `BIC`, `deviance`, `df.residual`
#' and `nobs` are those of the accessors ([moe_fit-methods]); `npar` is the
#' number of free parameters; `converged` and `iterations` describe the best
#' start, `n_starts` counts the starts that competed for the minimum and
#' `n_best` those that reached the best SSE within `control$agree_tol`
#' relative, 1e-6 by default (several starts agreeing on the minimum is some
#' evidence that it is the global one; see [summary.moe_fit()]).
#'
#' `augment()`: without `newdata`, the data of the fit (the model frame of a
#' fit from [moe()], else the columns `y` and the inputs) with `.fitted`,
#' `.resid`, and the gates `.gate1`, ..., `.gatek` of every expert at every
#' observation ([moe_gates()]). With `data`, those columns are added to it
#' instead (it must have a row per fitted observation, or per row of the
#' original data for a fit with `na.action = na.exclude`, whose rows with
#' missing values get `NA`). With `newdata`, the columns are for the new
#' inputs (see [predict.moe_fit()]): `.fitted`, the gates, and `.resid` when
#' `newdata` holds the response of a formula fit. `interval` adds the limits
#' `.lower` and `.upper` of [predict.moe_fit()]'s intervals.
#'
#' @param x A `moe_fit` object from [moe_fit()] or [moe()].
#' @param conf.int Whether to add the confidence limits `conf.low` and
#'   `conf.high`, `TRUE` or `FALSE`.
#' @param conf.level Confidence level of the intervals, a number strictly
#'   between 0 and 1.
#' @param data `NULL` or a data frame with the observations of the fit, to
#'   which `augment()` adds its columns.
#' @param newdata `NULL` or new inputs, as for [predict.moe_fit()].
#' @param interval `"none"`, `"confidence"` or `"prediction"`, as for
#'   [predict.moe_fit()].
#' @param ... Not used; any argument here is an error.
#' @returns A data frame. `tidy()`: columns `term`, `estimate`,
#'   `std.error`, `statistic`, `p.value`, (with `conf.int = TRUE`)
#'   `conf.low`, `conf.high`, then `expert`, `block` and `input`. `glance()`:
#'   one row with `sigma`, `logLik`, `AIC`, `BIC`, `deviance`,
#'   `df.residual`, `nobs`, `npar`, `k`, `gating`, `expert`, `converged`,
#'   `iterations`, `n_starts` and `n_best`. `augment()`: the data with
#'   `.fitted`, `.resid`, `.gate1`, ..., `.gatek` and (with `interval`)
#'   `.lower` and `.upper`.
#' @seealso [summary.moe_fit()], [predict.moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' generics::tidy(fit, conf.int = TRUE)
#' generics::glance(fit)
#' head(generics::augment(fit))
#' generics::augment(fit, newdata = data.frame(x1 = c(-0.5, 0, 0.5)),
#'                   interval = "confidence")
#' @name tidy.moe_fit
NULL

#' @rdname tidy.moe_fit
#' @method tidy moe_fit
#' @export
tidy.moe_fit <- function(x, conf.int = FALSE, conf.level = 0.95, ...) {
  check_dots_empty(...)
  check_fit(x, "x")
  conf.int <- check_flag(conf.int, "conf.int")
  conf.level <- check_level(conf.level, "conf.level")
  co <- summary.moe_fit(x)$coefficients
  lay <- params_layout(x$coefficients)
  out <- data.frame(term = names(x$theta), estimate = unname(x$theta),
                    std.error = unname(co[, "Std. Error"]), statistic = unname(co[, "t value"]),
                    p.value = unname(co[, "Pr(>|t|)"]), stringsAsFactors = FALSE)
  if (conf.int) {
    ci <- confint.moe_fit(x, level = conf.level)
    out$conf.low <- unname(ci[, 1L])
    out$conf.high <- unname(ci[, 2L])
  }
  out$expert <- lay$expert
  out$block <- lay$block
  out$input <- x$xnames[lay$column]
  out
}

#' @rdname tidy.moe_fit
#' @method glance moe_fit
#' @export
glance.moe_fit <- function(x, ...) {
  check_dots_empty(...)
  check_fit(x, "x")
  ll <- logLik.moe_fit(x)
  df <- attr(ll, "df")
  agree <- start_agreement(x)
  data.frame(sigma = sigma.moe_fit(x), logLik = c(ll), AIC = -2 * c(ll) + 2 * df,
             BIC = -2 * c(ll) + log(x$nobs) * df, deviance = x$sse,
             df.residual = as.integer(x$df.residual), nobs = as.integer(x$nobs),
             npar = as.integer(x$npar), k = as.integer(x$k), gating = x$gating,
             expert = x$expert, converged = isTRUE(x$convergence$converged),
             iterations = as.integer(x$convergence$iterations), n_starts = agree$n,
             n_best = agree$n_best,
             stringsAsFactors = FALSE)
}

#' @rdname tidy.moe_fit
#' @method augment moe_fit
#' @export
augment.moe_fit <- function(x, data = NULL, newdata = NULL,
                            interval = c("none", "confidence", "prediction"),
                            conf.level = 0.95, ...) {
  check_dots_empty(...)
  check_fit(x, "x")
  if (!is.character(interval) || length(interval) < 1L)
    abort_arg("interval", "one of \"none\", \"confidence\", \"prediction\"", interval)
  interval <- check_choice(interval[1L], c("none", "confidence", "prediction"), "interval")
  conf.level <- check_level(conf.level, "conf.level")
  if (!is.null(data) && !is.null(newdata))
    stop("Pass `data` (the observations of the fit) or `newdata` (new inputs), not both.",
         call. = FALSE)
  if (!is.null(newdata)) return(augment_newdata(x, newdata, interval, conf.level))
  gates <- model_eval(x$coefficients, x$x, components = TRUE)$gates
  band <- if (interval != "none") predict.moe_fit(x, interval = interval, level = conf.level)
  if (is.null(data)) {
    out <- model.frame.moe_fit(x)
    fit <- unname(x$fitted.values)
    res <- unname(x$residuals)
  } else {
    if (!is.data.frame(data)) abort_arg("data", "NULL or a data frame", data)
    fit <- unname(fitted.moe_fit(x))
    if (nrow(data) != length(fit))
      stop(sprintf(paste0("`data` must have one row per observation of the fit (%d), not %d; ",
                          "pass the data the fit was made from."), length(fit), nrow(data)),
           call. = FALSE)
    out <- data
    res <- unname(residuals.moe_fit(x))
    # na.exclude: rows with missing values get NA, as fitted() has them
    gates <- stats::napredict(x$na.action, gates)
    if (!is.null(band)) band <- stats::napredict(x$na.action, band)
  }
  augment_columns(out, fit, res, gates, band)
}

augment_newdata <- function(x, newdata, interval, conf.level) {
  fit <- unname(predict.moe_fit(x, newdata))
  gates <- predict.moe_fit(x, newdata, type = "gates")
  band <- if (interval != "none") predict.moe_fit(x, newdata, interval = interval, level = conf.level)
  if (is.data.frame(newdata) || is.matrix(newdata) || is.list(newdata)) {
    out <- as.data.frame(newdata)
  } else {
    out <- stats::setNames(data.frame(as.vector(newdata)), x$xnames)
  }
  res <- NULL
  # a formula fit's response in newdata gives residuals, as broom's augment.lm
  if (!is.null(x$formula)) {
    lhs <- x$formula[[2L]]
    if (all(all.vars(lhs) %in% names(out)))
      res <- as.vector(eval(lhs, out, environment(x$terms))) - fit
  }
  augment_columns(out, fit, res, gates, band)
}

augment_columns <- function(out, fit, res, gates, band) {
  out$.fitted <- fit
  if (!is.null(res)) out$.resid <- res
  for (i in seq_len(ncol(gates))) out[[paste0(".gate", i)]] <- unname(gates[, i])
  if (!is.null(band)) {
    out$.lower <- unname(band[, "lwr"])
    out$.upper <- unname(band[, "upr"])
  }
  out
}

#' @importFrom generics tidy glance augment
NULL
