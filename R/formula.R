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
#'   `start`, `nstart`, `control`, `output_weight`. Any other name is an error.
#' @param weights Optional observation weights, evaluated in `data` like the
#'   variables of the formula (see [moe_fit()] for how they enter).
#' @param offset Optional known values added to the regression function,
#'   evaluated in `data`; `offset()` terms in the formula are added to it, as
#'   in [stats::lm()]. [predict()][predict.moe_fit] evaluates both on
#'   `newdata`.
#' @param subset Optional expression selecting rows of `data`.
#' @param na.action What to do with rows that have missing values: a
#'   function such as [stats::na.omit()] or [stats::na.exclude()] (which pads
#'   `fitted()` and `residuals()` with `NA` at those rows), or its name. The
#'   default is, as for [stats::lm()], `getOption("na.action")` (`"na.omit"`
#'   in a standard session); when that option is unset or [stats::na.fail()],
#'   a row with a missing value is an error that names it.
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
  if (missing(k)) abort_missing("k", "the number of experts, a whole number >= 1")
  mf <- moe_model_frame(formula, data = if (missing(data)) NULL else data,
                        exprs = list(weights = cl[["weights"]], offset = cl[["offset"]],
                                     subset = cl[["subset"]]),
                        na.action = if (missing(na.action)) getOption("na.action") else na.action,
                        caller = parent.frame())
  mt <- attr(mf, "terms")
  y <- stats::model.response(mf)
  if (is.null(y)) stop("`formula` must have a response on its left-hand side.", call. = FALSE)
  # a factor would otherwise reach the fit as its integer codes
  if (is.factor(y) || is.character(y))
    stop(sprintf("The response of `formula` must be numeric, not %s: the model is a regression.",
                 describe_value(y)), call. = FALSE)
  y <- stats::model.response(mf, "numeric")
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

# The model frame of moe(), built by stats::model.frame() from arguments
# checked first, so that every error names the argument at fault (`formula`,
# `data`, `weights`, `offset`, `subset`, `na.action`) instead of passing on
# model.frame()'s "object 'zz' not found" or "variable lengths differ".
# `na.action` is a function, its name, or NULL (moe() passes the session's
# option, as lm() does): NULL and na.fail make missing values an error that
# names the row.
# `exprs` holds the unevaluated `weights`, `offset` and `subset` of the call
# (NULL when not given), evaluated as model.frame() would: in `data`, then in
# the caller's frame.
moe_model_frame <- function(formula, data, exprs, na.action, caller) {
  env <- environment(formula)
  if (is.null(env)) env <- caller
  if (is.null(data)) {
    data <- env
  } else if (!is.environment(data)) {
    named <- is.list(data) && length(data) > 0L && !is.null(names(data)) && all(nzchar(names(data)))
    if (!is.data.frame(data) && !named)
      abort_arg("data", "a data frame (or a named list of variables)", data)
  }
  # a variable found nowhere: say so, naming the formula and the data
  vars <- setdiff(all.vars(formula), ".")
  absent <- vars[!vapply(vars, function(v)
    if (is.environment(data)) exists(v, envir = data) else v %in% names(data) || exists(v, envir = env),
    logical(1))]
  if (length(absent))
    stop(sprintf(paste0("`formula` uses the variable%s %s, which %s not in `data` (nor in the ",
                        "formula's environment)."), if (length(absent) > 1L) "s" else "",
                 paste0("\"", absent, "\"", collapse = ", "), if (length(absent) > 1L) "are" else "is"),
         call. = FALSE)
  # the checked values go into the call as values (do.call), since
  # model.frame() evaluates its extra arguments as expressions in `data`
  frame <- function(...) {
    args <- list(...)
    args <- c(list(formula = formula, data = data, drop.unused.levels = TRUE),
              args[!vapply(args, is.null, logical(1))])
    tryCatch(do.call(stats::model.frame, args),
             error = function(e)
               stop(sprintf("`formula` could not be evaluated in `data`: %s", conditionMessage(e)),
                    call. = FALSE))
  }
  n <- nrow(frame(na.action = stats::na.pass))
  if (n == 0L) stop("`data` must have at least one row, not 0.", call. = FALSE)
  value <- lapply(stats::setNames(nm = c("weights", "offset", "subset")), function(arg) {
    e <- exprs[[arg]]
    if (is.null(e)) return(NULL)
    tryCatch(if (is.environment(data)) eval(e, data) else eval(e, data, caller),
             error = function(err)
               stop(sprintf("`%s` could not be evaluated in `data`: %s", arg, conditionMessage(err)),
                    call. = FALSE))
  })
  for (arg in c("weights", "offset")) {
    v <- value[[arg]]
    if (is.null(v)) next
    # a one-dimensional array (e.g. from tapply()) or a one-column matrix is
    # a vector of numbers too
    if (!is.numeric(v) || !(length(dim(v)) <= 1L || length(dim(v)) == 2L && ncol(v) == 1L) ||
        length(v) != n)
      abort_arg(arg, sprintf("NULL or one number per row of `data` (%d)", n), v)
    value[[arg]] <- as.vector(v)
  }
  s <- value$subset
  if (!is.null(s)) {
    rows <- if (is.logical(s) && is.null(dim(s)) && length(s) == n) which(s)
            else if (is.numeric(s) && is.null(dim(s)) && all(is_whole_vec(s)) && all(abs(s) <= n) &&
                     (all(s >= 0) || all(s <= 0))) seq_len(n)[s]
            else abort_arg("subset", sprintf(paste0("a logical vector with one value per row of `data` ",
                                                    "(%d) or row numbers"), n), s)
    if (!length(rows)) stop("`subset` must select at least one row of `data`; it selects none.",
                            call. = FALSE)
  }
  if (!is.null(na.action)) {
    fn <- if (is.character(na.action) && length(na.action) == 1L && !is.na(na.action))
      get0(na.action, envir = caller, mode = "function") else na.action
    if (!is.function(fn))
      abort_arg("na.action", "a function such as na.omit or na.exclude (or its name)", na.action)
    # na.fail's own error does not say where: the check below does
    na.action <- if (identical(fn, stats::na.fail)) NULL else fn
  }
  mf <- frame(weights = value$weights, offset = value$offset, subset = value$subset,
              na.action = if (is.null(na.action)) stats::na.pass else na.action)
  if (is.null(na.action)) {
    bad <- which(!stats::complete.cases(mf))
    if (length(bad)) {
      # missing weights or offsets are those arguments' fault, not the data's
      where <- vapply(mf, anyNA, logical(1))
      extra <- c("(weights)" = "weights", "(offset)" = "offset")
      culprit <- unique(ifelse(names(mf)[where] %in% names(extra), extra[names(mf)[where]], "data"))
      if ("data" %in% culprit)
        stop(sprintf(paste0("`data` has %d row%s with missing values in the model's variables ",
                            "(first: row %s); remove them or pass `na.action = na.omit`."),
                     length(bad), if (length(bad) > 1L) "s" else "", rownames(mf)[bad[1L]]),
             call. = FALSE)
      stop(sprintf(paste0("`%s` must be numbers, not NA; %d %s missing (first: row %s). Remove ",
                          "those rows or pass `na.action = na.omit`."), culprit[1L], length(bad),
                   if (length(bad) > 1L) "are" else "is", rownames(mf)[bad[1L]]), call. = FALSE)
    }
  } else if (nrow(mf) == 0L) {
    # where the missing values are: the data's variables, or the weights or
    # offset
    all_rows <- frame(weights = value$weights, offset = value$offset, subset = value$subset,
                      na.action = stats::na.pass)
    where <- names(all_rows)[vapply(all_rows, anyNA, logical(1))]
    where <- ifelse(where %in% c("(weights)", "(offset)"), sprintf("`%s`", gsub("[()]", "", where)),
                    sprintf("\"%s\"", where))
    stop(sprintf("`na.action` removed every row of `data`: each has a missing value (in %s).",
                 paste(where, collapse = ", ")), call. = FALSE)
  }
  mf
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
