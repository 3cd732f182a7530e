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
