#' Fit a mixture of experts with a formula
#'
#' A formula interface to [moe_fit()], in the manner of [stats::lm()] and
#' [stats::nls()]: the right-hand side gives the inputs x (through
#' [stats::model.matrix()], without an intercept column since every gate and
#' expert has its own intercept), the left-hand side the response.
#'
#' @param formula A formula such as `y ~ x1 + x2`.
#' @param data A data frame holding the variables of `formula`.
#' @param k Number of experts.
#' @param ... Further arguments to [moe_fit()]: `gating`, `expert`, `degree`, `lower`, `upper`,
#'   `start`, `nstart`, `control`. Any other name is an error.
#' @param weights Optional observation weights, evaluated in `data` like the
#'   variables of the formula (see [moe_fit()] for how they enter).
#' @param offset Optional known values added to the regression function,
#'   evaluated in `data`; `offset()` terms in the formula are added to it, as
#'   in [stats::lm()]. [predict()][predict.moe_fit] evaluates both on
#'   `newdata`.
#' @param subset Optional expression selecting rows of `data`.
#' @param na.action What to do with rows that have missing values. By
#'   default they are an error, which names the rows; pass
#'   `na.action = na.omit` to drop them.
#' @returns A `moe_fit` object (see [moe_fit()]) that also carries the
#'   formula and terms, so that `predict(fit, newdata)` takes a data frame.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 500, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2)
#' summary(fit)
#' @export
moe <- function(formula, data, k, ..., weights, offset, subset, na.action) {
  cl <- match.call()
  if (!inherits(formula, "formula") || length(formula) != 3L)
    abort_arg("formula", "a two-sided formula such as y ~ x1 + x2", formula)
  passed <- names(list(...))
  if (...length() && (is.null(passed) || any(!nzchar(passed))))
    stop("Arguments to moe() after `k` must be named (see ?moe_fit).", call. = FALSE)
  fit_args <- setdiff(names(formals(moe_fit)), c("x", "y", "k", "weights", "offset"))
  unknown <- setdiff(passed, fit_args)
  if (length(unknown))
    stop(sprintf("`%s` is not an argument of moe() or moe_fit(); they take %s.", unknown[1L],
                 paste0("`", c("formula", "data", "k", fit_args, "weights", "offset", "subset",
                               "na.action"), "`", collapse = ", ")), call. = FALSE)
  if (missing(data)) data <- environment(formula)
  mf <- match.call(expand.dots = FALSE)
  mf <- mf[c(1L, match(c("formula", "data", "subset", "weights", "offset", "na.action"),
                       names(mf), 0L))]
  mf$drop.unused.levels <- TRUE
  if (missing(na.action)) mf$na.action <- quote(stats::na.pass)
  mf[[1L]] <- quote(stats::model.frame)
  mf <- eval(mf, parent.frame())
  if (missing(na.action)) {
    bad <- which(!stats::complete.cases(mf))
    if (length(bad))
      stop(sprintf(paste0("`data` has %d row%s with missing values in the model's variables ",
                          "(first: row %s); remove them or pass `na.action = na.omit`."),
                   length(bad), if (length(bad) > 1L) "s" else "", rownames(mf)[bad[1L]]),
           call. = FALSE)
  }
  mt <- attr(mf, "terms")
  y <- stats::model.response(mf, "numeric")
  if (is.null(y)) stop("`formula` must have a response on its left-hand side.", call. = FALSE)
  X <- formula_design(mt, mf)
  w <- stats::model.weights(mf)
  off <- stats::model.offset(mf)
  fit <- moe_fit(X, y, k, ..., weights = w, offset = off)
  fit$call <- cl
  fit$formula <- formula
  fit$terms <- mt
  fit$xlevels <- stats::.getXlevels(mt, mf)
  fit$contrasts <- attr(X, "contrasts")
  fit$na.action <- attr(mf, "na.action")
  fit
}

# Model matrix without the intercept column (gates and experts carry their own).
formula_design <- function(mt, mf, xlev = NULL, contrasts = NULL) {
  X <- stats::model.matrix(mt, mf, contrasts.arg = contrasts, xlev = xlev)
  keep <- colnames(X) != "(Intercept)"
  if (!any(keep)) stop("`formula` must have at least one input on its right-hand side.", call. = FALSE)
  cn <- colnames(X)[keep]
  X <- X[, keep, drop = FALSE]
  colnames(X) <- cn
  X
}
