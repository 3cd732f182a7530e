#' Predictions from a mixture-of-experts fit
#'
#' The fitted regression function \eqn{f_{\hat G}}{f_Ghat}, or its gates
#' \eqn{g_i} or experts \eqn{h(a_i^\top x + b_i)}, at the training inputs or
#' at new ones, with standard errors and confidence or prediction intervals
#' for the regression function.
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
#' Standard errors come from the delta method with the analytic Jacobian
#' \eqn{J(x)} of the regression function at the fit:
#' \eqn{\mathrm{se}(x)^2 = J(x) V J(x)^\top}{se(x)^2 = J(x) V J(x)'} with
#' \eqn{V} = [vcov()][vcov.moe_fit] (parameters at a bound of the box are
#' held fixed). A confidence interval is \eqn{\hat f(x) \pm t_{n-P}\,
#' \mathrm{se}(x)}{fhat(x) +- qt(., n - P) se(x)}; a prediction interval
#' adds the noise of a new observation, \eqn{\hat f(x) \pm t_{n-P}
#' \sqrt{\mathrm{se}(x)^2 + \hat\sigma^2 / w}}{fhat(x) +- qt(., n - P)
#' sqrt(se(x)^2 + sigma^2 / w)} with `pred.weights` w (1 by default), as
#' [stats::predict.lm()]. Both rest on the local linearisation of the model,
#' so they are trustworthy where the fit is identified; over-specified fits
#' (more experts than the data support) have a singular information, and
#' `vcov()` then warns.
#'
#' @param object A `moe_fit` object from [moe_fit()] or [moe()].
#' @param newdata New inputs (see Details). If missing, the training inputs
#'   are used and `type = "response"` gives `fitted(object)`.
#' @param type `"response"` (the regression function), `"gates"` (the n x k
#'   matrix of gate values, as [moe_gates()]) or `"experts"` (the n x k matrix
#'   of expert outputs before gating, as [moe_experts()]).
#' @param interval `"none"`, `"confidence"` (for the regression function) or
#'   `"prediction"` (for a new observation); only with `type = "response"`.
#' @param level Confidence level of the intervals, a number in (0, 1).
#' @param se.fit If `TRUE`, also return the standard errors of the regression
#'   function (only with `type = "response"`).
#' @param pred.weights Weights of the new observations for prediction
#'   intervals: 1, or one positive number per row of `newdata`.
#' @param offset For a fit from `moe_fit()` with an `offset`: the offset of
#'   the new observations, one number per row of `newdata` (a fit from
#'   [moe()] evaluates its offsets on `newdata`).
#' @param ... Not used; any argument here is an error.
#' @returns For `type = "response"` a numeric vector with one value per row
#'   (named by the rows of `newdata` for a fit from [moe()], as
#'   [stats::predict.lm()] names them), or with `interval` a matrix with columns `fit`, `lwr`, `upr`; with
#'   `se.fit = TRUE` a list with `fit` (that vector or matrix), `se.fit`,
#'   `df` and `residual.scale`, as [stats::predict.lm()]. Otherwise a matrix
#'   with one row per row of inputs and one column per expert (`expert1`,
#'   ..., `expertk`).
#' @seealso [moe_mean()], [moe_gates()], [moe_experts()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' new <- data.frame(x1 = c(-0.5, 0, 0.5))
#' predict(fit, new)
#' predict(fit, new, interval = "confidence")
#' predict(fit, new, interval = "prediction", level = 0.9)
#' predict(fit, new, type = "gates")
#' # the same from a matrix fit
#' fit2 <- moe_fit(d$x1, d$y, k = 2, nstart = 3)
#' predict(fit2, c(-0.5, 0, 0.5), se.fit = TRUE)
#' @export
predict.moe_fit <- function(object, newdata, type = c("response", "gates", "experts"),
                            interval = c("none", "confidence", "prediction"), level = 0.95,
                            se.fit = FALSE, pred.weights = 1, offset = NULL, ...) {
  check_dots_empty(...)
  check_fit(object)
  type <- check_choice_arg(type, c("response", "gates", "experts"), "type")
  if (!is.character(interval) || length(interval) < 1L)
    abort_arg("interval", "one of \"none\", \"confidence\", \"prediction\"", interval)
  interval <- check_choice(interval[1L], c("none", "confidence", "prediction"), "interval")
  se.fit <- check_flag(se.fit, "se.fit")
  if (type != "response" && (interval != "none" || se.fit))
    stop(sprintf("`%s` is only for `type = \"response\"` (the regression function), not \"%s\".",
                 if (interval != "none") "interval" else "se.fit", type), call. = FALSE)
  level <- check_level(level, "level")
  # checked whatever `interval` is, so that a bad value is never silently
  # ignored; its length is checked against the rows once they are known
  pw <- pred.weights
  if (!is.numeric(pw) || !is.null(dim(pw)) || length(pw) < 1L)
    abort_arg("pred.weights", "1 or one positive number per row of `newdata`", pw)
  bad_w <- which(!is.finite(pw) | pw <= 0)
  if (length(bad_w))
    stop(sprintf("`pred.weights` must be positive and finite, but element %d is %s.", bad_w[1L],
                 format(pw[bad_w[1L]])), call. = FALSE)
  new <- !(missing(newdata) || is.null(newdata))
  if (!new && !is.null(offset))
    stop(paste0("`offset` must be NULL when `newdata` is missing: the fitted values carry the ",
                "fit's own offset, if it has one. Pass `newdata` with the offset of its rows."),
         call. = FALSE)
  x <- if (new) newdata_matrix(object, newdata) else object$x
  if (!(length(pw) %in% c(1L, nrow(x))))
    abort_arg("pred.weights", sprintf("1 or %d positive numbers (one per row)", nrow(x)), pw)
  if (!new && type == "response" && interval == "none" && !se.fit)
    return(fitted.moe_fit(object))
  off <- if (new) newdata_offset(object, newdata, offset, nrow(x)) else object$offset
  comp <- model_components(object$coefficients, x, arg = if (new) "newdata" else "x")
  if (type != "response") return(switch(type, gates = comp$gates, experts = comp$experts))
  fit <- comp$f + if (is.null(off)) 0 else off
  # as for lm(), named by the rows of newdata
  names(fit) <- rownames(x)
  if (interval == "none" && !se.fit) return(fit)
  se <- prediction_se(object, x)
  names(se) <- rownames(x)
  df <- object$df.residual
  out <- fit
  if (interval != "none") {
    q <- stats::qt((1 + level) / 2, df)
    width <- if (interval == "confidence") se else sqrt(se^2 + sigma.moe_fit(object)^2 / pw)
    out <- cbind(fit = fit, lwr = fit - q * width, upr = fit + q * width)
  }
  if (se.fit) return(list(fit = out, se.fit = se, df = df, residual.scale = sigma.moe_fit(object)))
  out
}

# Delta-method standard errors of the regression function at the rows of x;
# parameters at a bound are held fixed (their variance is NA in vcov()).
prediction_se <- function(object, x) {
  V <- vcov.moe_fit(object)
  V[is.na(V)] <- 0
  J <- .Call(C_model_jacobian, params_spec(object$coefficients), unname(object$theta), x, 1L)
  sqrt(pmax(rowSums((J %*% V) * J), 0))
}

# The offset of new observations: for a formula fit, its offset() terms and
# its `offset` argument evaluated on newdata; for a matrix fit with an offset,
# the `offset` the caller gives.
newdata_offset <- function(object, newdata, offset, n) {
  if (!is.null(object$terms)) {
    if (!is.null(offset))
      stop("`offset` is evaluated on `newdata` for a fit from moe(); do not pass it.", call. = FALSE)
    off <- attr(newdata_formula(object, newdata), "offset")
    if (!is.null(object$call$offset)) {
      extra <- eval(object$call$offset, as.data.frame(newdata), environment(object$terms))
      off <- (if (is.null(off)) 0 else off) + extra
    }
    return(off)
  }
  if (is.null(object$offset)) {
    if (!is.null(offset))
      stop("`offset` must be NULL: the fit has no offset.", call. = FALSE)
    return(NULL)
  }
  if (is.null(offset))
    stop("`offset` must be given: the fit has an offset, so new observations need theirs.",
         call. = FALSE)
  check_offset(offset, n)
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
  X <- formula_design(tt, mf, xlev = object$xlevels, contrasts = object$contrasts)
  attr(X, "offset") <- stats::model.offset(mf)
  X
}

newdata_plain <- function(object, newdata) {
  d <- object$d
  xn <- object$xnames
  if (is.data.frame(newdata) || is.matrix(newdata)) {
    cn <- colnames(newdata)
    twice <- intersect(cn[duplicated(cn)], xn)
    if (length(twice))
      stop(sprintf("`newdata` has the input column \"%s\" more than once; which one is meant is ambiguous.",
                   twice[1L]), call. = FALSE)
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
