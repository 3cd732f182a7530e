# The face of a study object: its results as a data frame, and a print that
# states the design (truth, gates, starts, box) before the rates.

#' @export
as.data.frame.moe_study <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$results
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}

#' @export
print.moe_study <- function(x, ...) {
  s <- x$setup
  cat(sprintf("Convergence study: k = %d fitted experts, truth k* = %d (%s gate), d = %d\n",
              s$k, s$truth$k, s$truth$gating, s$d))
  cat(sprintf("  gates: %s; experts: %s\n", paste(s$gating, collapse = ", "),
              paste(s$expert, collapse = ", ")))
  cat(sprintf("  n: %d sizes in [%d, %d]; %d replicates; sd = %s; init = %s; seed = %d\n",
              length(s$n), min(s$n), max(s$n), s$reps, format(s$sd), s$init, s$settings$seed))
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

#' @export
summary.moe_study <- function(object, ...) {
  rate_table(object, ...)
}
