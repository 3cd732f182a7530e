#' Control settings for the least-squares fit
#'
#' Settings of the Levenberg-Marquardt solver behind [moe_fit()] and of its
#' data-driven starts.
#'
#' The solver stops when, after an accepted step, both the actual and the
#' predicted relative reduction of the SSE are at most `ftol` (code 1), when
#' the relative step is at most `xtol` (code 2), when every column of the
#' Jacobian is nearly orthogonal to the residuals (the cosine is at most
#' `gtol`, code 3), when the SSE is zero (code 4), or when no damped step
#' reduces the SSE any more (code 5, a numerical local minimum). Reaching
#' `maxit` iterations gives code -1 and a non-finite SSE at the start code -2;
#' neither is an error: the fit records the code and its message.
#'
#' @param maxit Maximum number of Levenberg-Marquardt iterations per start.
#' @param ftol,xtol,gtol Tolerances of the stopping rules (see Details).
#' @param lambda Initial damping, relative to the diagonal of \eqn{J^\top J}.
#' @param threads Number of OpenMP threads for the elementwise work of the C
#'   core. Results do not depend on it.
#' @param trace If `TRUE`, print the SSE, damping and gain ratio at every accepted
#'   iteration, and each rejected trial step.
#' @param start_rows The data-driven starts are computed on at most this many
#'   rows (a random subsample for larger data); the local searches always use
#'   all rows.
#' @param jitter Standard deviation of the relative Gaussian noise added to
#'   every data-driven start after the first.
#' @returns A list of class `moe_control`.
#' @examples
#' moe_control(maxit = 500, threads = 2)
#' @export
moe_control <- function(maxit = 200L, ftol = 1e-8, xtol = 1e-8, gtol = 1e-8,
                        lambda = 1e-3, threads = getOption("sigmoe.threads", 1L),
                        trace = FALSE, start_rows = 5000L, jitter = 0.1) {
  structure(list(
    maxit = check_whole(maxit, "maxit", min = 1),
    ftol = check_number(ftol, "ftol", min = 0),
    xtol = check_number(xtol, "xtol", min = 0),
    gtol = check_number(gtol, "gtol", min = 0),
    lambda = check_number(lambda, "lambda", min = 0, open_min = TRUE),
    threads = check_whole(threads, "threads", min = 1),
    trace = check_flag(trace, "trace"),
    start_rows = check_whole(start_rows, "start_rows", min = 10),
    jitter = check_number(jitter, "jitter", min = 0)
  ), class = "moe_control")
}

check_control <- function(control) {
  if (inherits(control, "moe_control")) return(control)
  if (is.list(control) && !is.null(names(control)) && all(nzchar(names(control)))) {
    known <- names(formals(moe_control))
    bad <- setdiff(names(control), known)
    if (length(bad))
      stop(sprintf("`control` has unknown setting%s %s; known: %s.", if (length(bad) > 1) "s" else "",
                   paste0("\"", bad, "\"", collapse = ", "), paste(known, collapse = ", ")),
           call. = FALSE)
    return(do.call(moe_control, control))
  }
  abort_arg("control", "a `moe_control()` object or a named list of its settings", control)
}

# The settings the solver reads (src/lsq.c), by name and in this order; the C
# side checks the names, so a setting can never be read from the wrong slot.
lsq_control_names <- c("maxit", "ftol", "xtol", "gtol", "lambda", "threads", "trace")

lsq_control_vector <- function(control) {
  vapply(lsq_control_names, function(nm) as.double(control[[nm]]), numeric(1))
}
