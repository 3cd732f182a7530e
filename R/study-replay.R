#' Replay one cell of a convergence study
#'
#' Recomputes a single (expert, gating, n, replicate) cell of a
#' [convergence_study()] from its stored seed, alone, and returns the fit
#' with its data. Its row is identical to the study's row (all columns but
#' `seconds`), the starts of a global search included.
#'
#' @param study A `moe_study` object.
#' @param gating The gate of the cell, one of the study's gates.
#' @param n The sample size of the cell, one of the study's sizes.
#' @param rep The replicate number of the cell.
#' @param expert The expert type of the cell; may be omitted when the study
#'   has one type.
#' @returns A list with `result` (the cell's row, a one-row data frame),
#'   `fit` (the `moe_fit`, or the error if the fit failed), `start` (the start
#'   built from the truth, noise included, of a near-truth fit; the named list
#'   of them, one per representation, of a global search; else `NULL`) and
#'   `data` (the simulated data frame).
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400), reps = 2, k = 3, sd = 0.1, seed = 1)
#' cell <- study_replay(st, gating = "softmax", n = 400, rep = 2)
#' cell$result
#' coef(cell$fit)
#' @export
study_replay <- function(study, gating, n, rep, expert = NULL) {
  check_study(study)
  if (missing(gating)) abort_missing("gating", sprintf("the gate of the cell, one of %s",
                                                      paste0("\"", study$setup$gating, "\"", collapse = ", ")))
  if (missing(n)) abort_missing("n", "the sample size of the cell, one of the study's sizes")
  if (missing(rep)) abort_missing("rep", "the replicate number of the cell")
  setup <- study$setup
  gating <- check_choice(gating, setup$gating, "gating")
  if (!is_whole(n) || !(n %in% setup$n))
    abort_arg("n", sprintf("one of the study's sample sizes (%s)", paste(setup$n, collapse = ", ")), n)
  rep <- check_whole(rep, "rep", min = 1, max = setup$reps)
  if (is.null(expert)) {
    if (length(setup$expert) > 1L)
      stop(sprintf("`expert` must be given: the study has several expert types (%s).",
                   paste(setup$expert, collapse = ", ")), call. = FALSE)
    expert <- setup$expert
  }
  expert <- check_choice(expert, setup$expert, "expert")
  task <- Find(function(t) t$expert == expert && t$n == n && t$rep == rep, setup$tasks)
  saved <- rng_save()
  on.exit(rng_restore(saved), add = TRUE)
  out <- study_task_compute(task, setup, gating, keep = TRUE)
  list(result = bind_rows_list(list(out$rows)), fit = out$fits[[gating]]$fit,
       start = out$fits[[gating]]$start, data = out$data)
}
