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
