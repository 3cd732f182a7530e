# The face of a study object: its results as a data frame, and a print that
# states the design (truth, gates, starts, box) before the rates.

#' Print, summarise and tabulate a convergence study
#'
#' `print()` states the design of a study (the truth, the gates and experts,
#' the sample sizes and replicates, the starts and the box), how its fits were
#' computed (and which gates are misspecified for the truth), then its rate
#' table with a bootstrap of 200 resamples (see [rate_table()]). `summary()`
#' is [rate_table()], with its arguments. `as.data.frame()` gives the results,
#' one row per fit, with the columns listed in the section on the losses
#' recorded of [convergence_study()].
#'
#' @param x,object A `moe_study` object from [convergence_study()] or
#'   [paper_study()].
#' @param row.names `NULL`, or one distinct name per row of the results.
#' @param optional Not used (an argument of the generic).
#' @param ... For `summary()`: arguments of [rate_table()] (`losses`,
#'   `stat`, `level`, `B`, `seed`), by name. Otherwise not used.
#' @returns `print()`: `x`, invisibly. `summary()`: a `moe_rate_table`.
#'   `as.data.frame()`: a data frame.
#' @seealso [convergence_study()], [rate_table()], [plot.moe_study()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400), reps = 2, k = 3, sd = 0.1, seed = 1)
#' st
#' summary(st, losses = "l2", B = 100)
#' head(as.data.frame(st))
#' @name moe_study-methods
NULL

#' @rdname moe_study-methods
#' @export
as.data.frame.moe_study <- function(x, row.names = NULL, optional = FALSE, ...) {
  check_study(x, "x")
  out <- x$results
  if (!is.null(row.names)) {
    # one distinct name per row, as data.frame() asks of its row names
    if (!(is.character(row.names) || is.numeric(row.names)) || !is.null(dim(row.names)) ||
        length(row.names) != nrow(out) || anyNA(row.names) || anyDuplicated(row.names))
      abort_arg("row.names", sprintf("NULL or %d distinct row names (one per row of the results)",
                                     nrow(out)), row.names)
    rownames(out) <- row.names
  }
  out
}

#' @rdname moe_study-methods
#' @export
print.moe_study <- function(x, ...) {
  s <- x$setup
  cat(sprintf("Convergence study: k = %d fitted experts, truth k* = %d (%s gate), d = %d\n",
              s$k, s$truth$k, s$truth$gating, s$d))
  cat(sprintf("  gates: %s; experts: %s\n", paste(s$gating, collapse = ", "),
              paste(s$expert, collapse = ", ")))
  cat(sprintf("  n: %s; %d replicate%s; sd = %s; init = %s; seed = %d\n",
              if (length(s$n) == 1L) sprintf("one size, %d", s$n)
              else sprintf("%d sizes in [%d, %d]", length(s$n), min(s$n), max(s$n)),
              s$reps, if (s$reps == 1L) "" else "s", format(s$sd), s$init, s$settings$seed))
  if (!is.na(x$regime)) cat(sprintf("  regime of the truth: %s\n", x$regime))
  sp <- s$surplus[!is.na(s$surplus)]
  if (length(sp))
    cat(sprintf("  surplus atoms: %s\n", paste(sprintf("%s %s", names(sp), sp), collapse = "; ")))
  cat(sprintf("  %s%s\n", study_box_label(x),
              if (identical(s$bounds$input, "auto")) " (bounds = \"auto\")" else ""))
  cat(sprintf("  %d fits (%d tasks computed, %d from cache) in %.1f s on %d worker%s\n",
              nrow(x$results), x$computed, x$cached, x$elapsed, x$workers,
              if (x$workers == 1L) "" else "s"))
  bad <- sum(!x$results$converged)
  if (bad) cat(sprintf("  %d fit%s did not converge (see columns `code`, `error`)\n", bad,
                       if (bad == 1L) "" else "s"))
  for (g in names(x$misspecified)[x$misspecified])
    cat(sprintf("  NOTE: the %s gate is misspecified for this truth (no Voronoi loss).\n", g))
  cat("\n")
  print(rate_table(x, B = 200L))
  invisible(x)
}

#' @rdname moe_study-methods
#' @export
summary.moe_study <- function(object, ...) {
  # `...` goes to rate_table(): a name it does not take is an error naming
  # it, not R's "unused argument"
  nm <- names(list(...))
  if (...length() && (is.null(nm) || !all(nzchar(nm))))
    stop("Arguments to summary() of a study after `object` must be named (see ?rate_table).",
         call. = FALSE)
  unknown <- setdiff(nm, setdiff(names(formals(rate_table)), "study"))
  if (length(unknown))
    stop(sprintf("Unknown argument `%s`: summary() of a study takes the arguments of rate_table() (%s).",
                 unknown[1L], paste0("`", setdiff(names(formals(rate_table)), "study"), "`",
                                     collapse = ", ")), call. = FALSE)
  rate_table(object, ...)
}
