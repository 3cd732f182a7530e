# Choosing the number of experts: one fit per k, compared by an information
# criterion (the F test of anova() is not valid between k and k + 1 experts).

#' Choose the number of experts by AIC or BIC
#'
#' Fits the model with [moe()] for every number of experts in `k` and
#' chooses the one with the lowest information criterion, BIC by default. The
#' criteria are those of [stats::AIC()] and [stats::BIC()] on the fits (the
#' Gaussian log-likelihood at the least-squares fit, with the number of free
#' parameters plus one for the variance).
#'
#' Fits with k and k + 1 experts are not regular nested models (the smaller
#' one lies on the boundary of the larger, where its parameters are not
#' identified), so F and likelihood-ratio tests ([anova.moe_fit()]) do not
#' have their usual distributions between them; information criteria are the
#' usual way to choose k instead. BIC is consistent for the number of
#' components in mixture models under conditions that hold for well-separated
#' experts; AIC tends to choose more experts.
#'
#' A criterion is only as good as the fits: a fit whose search did not
#' converge may have an SSE above its minimum, and so a criterion too high.
#' `moe_select()` warns, with a warning of class
#' `"sigmoe_selected_not_converged"`, when the chosen fit did not converge
#' (the warnings of each fit, see [moe_fit()], come through too, their
#' messages starting with the k they are about);
#' the column `converged` of the table shows it for every k, and `n_best`
#' how many starts reached the best SSE (one start alone at the minimum
#' suggests raising `nstart`). Without a box some models have no minimum to
#' converge to (a sigmoid gate can trade its level against the scale of a
#' ReLU expert without end); `lower` and `upper` (see [moe_fit()]) give the
#' compact parameter set on which the least-squares theory is stated.
#'
#' @param formula A two-sided formula such as `y ~ x1 + x2`, as for [moe()].
#' @param data A data frame holding the variables of `formula`.
#' @param k The numbers of experts to compare: distinct whole numbers >= 1.
#' @param criterion `"BIC"` (the default) or `"AIC"`.
#' @param ... Further arguments to [moe()], the same for every k: `gating`,
#'   `expert`, `degree`, `nstart`, `control`, `lower`, `upper`,
#'   `output_weight`, `weights`, `offset`, `subset`, `na.action`. `start` is
#'   rarely useful here, since a
#'   start has a given k.
#' @returns An object of class `moe_selection`: a list with `fits` (the
#'   fits, a list named by k), `table` (a data frame with one row per k and
#'   columns `k`, `npar`, `sse`, `logLik`, `AIC`, `BIC`, `converged` and
#'   `n_best`), `best` (the chosen k; its fit is
#'   `fits[[as.character(best)]]`) and `criterion`. Each fit's call is the
#'   [moe()] call with its k, so [stats::update()] works on it.
#' @seealso [moe()], [anova.moe_fit()].
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.1)
#' # on a compact parameter set (see ?moe_fit), where every fit can converge
#' sel <- moe_select(y ~ x1, data = d, k = 1:3, nstart = 5, lower = -10, upper = 10)
#' sel
#' sel$best
#' coef(sel$fits[[as.character(sel$best)]])
#' @export
moe_select <- function(formula, data, k = 1:5, criterion = c("BIC", "AIC"), ...) {
  if (!inherits(formula, "formula") || length(formula) != 3L)
    abort_arg("formula", "a two-sided formula such as y ~ x1 + x2", formula)
  if (missing(data)) stop("`data` must be given: a data frame with the variables of `formula`.",
                          call. = FALSE)
  if (!is.data.frame(data)) abort_arg("data", "a data frame", data)
  k <- check_k_set(k)
  if (!is.character(criterion) || length(criterion) < 1L)
    abort_arg("criterion", "\"BIC\" or \"AIC\"", criterion)
  criterion <- if (identical(criterion, c("BIC", "AIC"))) "BIC"
               else check_choice(criterion, c("BIC", "AIC"), "criterion")
  # the names only: evaluating `...` here would look for `weights = x1^2`
  # outside `data`, where moe() evaluates it
  passed <- ...names()
  if (...length() && (is.null(passed) || any(!nzchar(passed))))
    stop("Arguments to moe_select() after `criterion` must be named (see ?moe).", call. = FALSE)
  # the call each fit keeps is the moe() call the user would have written, so
  # that print() shows it and update() reruns it where the user works
  shown <- match.call()
  shown[[1L]] <- quote(moe)
  shown$criterion <- NULL
  # each fit runs that call in the caller's frame, so that moe() sees the
  # expressions of `weights`, `offset` and `subset` and evaluates them in
  # `data`, as it does when called directly (passed on through `...` they
  # would be evaluated outside `data`)
  caller <- parent.frame()
  fits <- lapply(k, function(kk) {
    call_k <- shown
    call_k[[1L]] <- moe
    call_k$formula <- formula
    call_k$data <- data
    call_k$k <- kk
    fit <- tryCatch(withCallingHandlers(eval(call_k, caller),
      # a fit's warnings, said again with the k they are about
      sigmoe_fit_warning = function(w) {
        w$message <- sprintf("k = %d: %s", kk, conditionMessage(w))
        warning(w)
        invokeRestart("muffleWarning")
      }), error = function(e)
      stop(sprintf("The fit with k = %d failed: %s", kk, conditionMessage(e)), call. = FALSE))
    shown$k <- as.numeric(kk)
    fit$call <- shown
    fit
  })
  names(fits) <- k
  table <- do.call(rbind, lapply(fits, function(f) {
    g <- glance.moe_fit(f)
    data.frame(k = g$k, npar = g$npar, sse = g$deviance, logLik = g$logLik, AIC = g$AIC,
               BIC = g$BIC, converged = g$converged, n_best = g$n_best)
  }))
  rownames(table) <- NULL
  score <- table[[criterion]]
  if (!any(is.finite(score)))
    stop(sprintf("No fit has a finite %s (every SSE is 0 or not finite); the criterion cannot choose.",
                 criterion), call. = FALSE)
  # ties go to the fewer experts
  best <- k[which.min(score)]
  chosen <- fits[[as.character(best)]]
  if (!isTRUE(chosen$convergence$converged)) warn_selected_not_converged(chosen, criterion)
  structure(list(fits = fits, table = table, best = best, criterion = criterion),
            class = "moe_selection")
}

# The numbers of experts to compare: distinct whole numbers >= 1, sorted.
check_k_set <- function(k) {
  ok <- is.numeric(k) && length(k) >= 1L && is.null(dim(k)) && all(is_whole_vec(k)) &&
    all(k >= 1 & k <= 1e4) && !anyDuplicated(k)
  if (!ok) abort_arg("k", "distinct whole numbers between 1 and 10000, such as 1:5", k)
  sort(as.integer(round(k)))
}

warn_selected_not_converged <- function(fit, criterion) {
  cv <- fit$convergence
  msg <- sprintf(paste0("The fit chosen by %s (k = %d) did not converge (code %d: %s), so its SSE ",
                        "and %s may be above their minimum and the choice may change; raise the ",
                        "iteration limit (`control = moe_control(maxit = )`), or bound the ",
                        "parameters (`lower`, `upper`) if some run off, and select again."),
                 criterion, as.integer(fit$k), as.integer(cv$code), cv$message, criterion)
  warning(structure(class = c("sigmoe_selected_not_converged", "warning", "condition"),
                    list(message = msg, call = NULL)))
}

#' @rdname moe_select
#' @param x A `moe_selection` object.
#' @param digits Number of significant digits to print.
#' @export
print.moe_selection <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  digits <- check_digits(digits)
  f <- x$fits[[1L]]
  cat(sprintf("Number of experts chosen by %s: %s; %s experts, %s gate\n", x$criterion,
              deparse1(f$formula), expert_label(f$expert, f$degree), sub("_", " ", f$gating)))
  tab <- x$table
  tab[[" "]] <- ifelse(tab$k == x$best, sprintf("<- lowest %s", x$criterion), "")
  print(tab, digits = digits, row.names = FALSE)
  cat(sprintf("Chosen: k = %d%s\n", as.integer(x$best),
              if (isTRUE(tab$converged[tab$k == x$best])) ""
              else " (its fit did not converge: see the warning)"))
  invisible(x)
}
