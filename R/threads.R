# Threads and cores: the BLAS's own threads, and the workers and cores a
# study shares out (see ?convergence_study).

#' Number of BLAS threads
#'
#' Reads and sets the number of threads of OpenBLAS, when R uses it, at run
#' time. Parallel studies set it to 1 in each worker so that workers times
#' BLAS threads never exceeds the cores.
#'
#' @param n A whole number between 1 and 1024 to set, or `NULL` to only read.
#' @returns The previous number of BLAS threads, invisibly when setting, or
#'   `NA` when the BLAS is not OpenBLAS.
#' @examples
#' blas_threads()
#' @export
blas_threads <- function(n = NULL) {
  if (is.null(n)) return(.Call(C_blas_threads, NA_integer_))
  n <- check_whole(n, "n", min = 1, max = max_threads)
  invisible(.Call(C_blas_threads, n))
}

# BLAS on one thread for the rest of the calling function (restored on exit,
# also on error): a multi-threaded BLAS may sum in another order, and a fit,
# its starts and its inference must not depend on the session's thread count.
pin_blas_threads <- function(envir = parent.frame()) {
  prev <- .Call(C_blas_threads, 1L)
  if (!is.na(prev) && prev != 1L)
    do.call(on.exit, list(substitute(.Call(C_blas_threads, p), list(p = prev)), add = TRUE),
            envir = envir)
  invisible(prev)
}

# Workers of the future plan in force (1 without future).
study_workers <- function() {
  if (requireNamespace("future", quietly = TRUE)) as.integer(future::nbrOfWorkers()) else 1L
}

# Cores of this machine as future counts them (respecting cgroups, job
# schedulers and options), else as parallel does.
study_cores <- function() {
  if (requireNamespace("future", quietly = TRUE)) as.integer(future::availableCores())
  else max(1L, parallel::detectCores(), na.rm = TRUE)
}

#' How many threads sigmoe uses
#'
#' Reports how the C core chooses its OpenMP threads (see `threads` in
#' [moe_control()]): the threads asked for, capped by the processors OpenMP
#' reports, by OpenMP's thread limit (`OMP_THREAD_LIMIT`), by the cores the
#' other processes leave free, and, for `n` rows, by the break-even rows per
#' thread of the fit's pass over the data and of an evaluation of the model.
#' The load is read at most once a second, so two calls within a second see
#' the same estimate.
#'
#' @param threads Threads asked for, a whole number between 1 and 1024.
#' @param n Rows of the data, a whole number >= 0, or `NULL` for the caps
#'   that hold whatever the data.
#' @param npar Free parameters of the model, a whole number >= 1 (for a fit,
#'   `length(coef(fit))`; 12 for a sigmoid gate with 3 ReLU experts in one
#'   input).
#' @returns A named integer vector: `requested`; `processors` (as OpenMP
#'   counts them); `thread_limit`; `load` (the other processes' share of the
#'   1-minute load average, but no more than the other processes runnable at
#'   the time, rounded; 0 where the system does not report it);
#'   `free` (processors minus that load, at least 1); `forked` (1 in a process
#'   forked from R, which runs single-threaded); `available` (the threads any
#'   call may use); and with `n`, `rows_fit` and `fit`, the break-even rows
#'   per thread of the fit's pass and the threads it uses at `n` rows, and
#'   `rows_eval` and `eval`, the same for an evaluation of the model
#'   ([moe_mean()], [fitted()][stats::fitted()], [predict()][stats::predict()]).
#' @examples
#' moe_threads()
#' moe_threads(threads = 2, n = 1e5, npar = 12)
#' @export
moe_threads <- function(threads = getOption("sigmoe.threads", 1L), n = NULL, npar = 12L) {
  threads <- check_whole(threads, "threads", min = 1, max = max_threads)
  if (!is.null(n)) n <- check_whole(n, "n", min = 0)
  npar <- check_whole(npar, "npar", min = 1)
  v <- .Call(C_threads_info, threads, if (is.null(n)) 0L else n, npar)
  out <- c(requested = v[1], processors = v[2], thread_limit = v[3], load = round(v[4]),
           free = v[5], forked = v[6], available = v[7])
  if (!is.null(n)) out <- c(out, rows_fit = v[8], fit = v[9], rows_eval = v[10], eval = v[11])
  out <- pmin(out, .Machine$integer.max)
  stats::setNames(as.integer(out), names(out))
}

# The rule as a pure function of its inputs (src/threads.c), for the tests:
# `asked` threads, capped by `procs` and `limit` (when >= 1), by the free cores
# procs - round(others) (at least 1), and by n / rows (when rows >= 1); 1 when
# forked.
threads_rule <- function(asked, procs, limit, others, forked, n, rows) {
  .Call(C_threads_rule, as.integer(asked), as.integer(procs), as.integer(limit),
        as.double(others), as.logical(forked), as.integer(n), as.integer(rows))
}

# For bench/threads.R: scale the break-even rows (0 turns the bound by the
# rows off) and switch the bound by the load; returns the previous settings,
# so that they can be restored.
threads_tune <- function(rows_scale = NA_real_, load = NA) {
  prev <- .Call(C_threads_tune, as.double(rows_scale), as.logical(load))
  invisible(list(rows_scale = prev[1], load = as.logical(prev[2])))
}
