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
#' **The flat-valley rule** (off by default: `valley_tol = 0`). An
#' over-specified mixture has long, nearly flat valleys of the SSE, along
#' which the solver can make steady but tiny progress for hundreds of
#' iterations. Two SSEs that differ by much less than one noise variance
#' \eqn{\sigma^2} cannot be told apart by the data (moving a parameter by
#' one standard error changes the SSE by about \eqn{\sigma^2}). With
#' `valley_tol > 0` the solver stops (code 6, converged) once the SSE fell by
#' at most `valley_tol` \eqn{\hat\sigma^2} over the last `valley_m` accepted
#' iterations, with \eqn{\hat\sigma^2 = \mathrm{SSE}/(n - P)}; in relative
#' terms, progress below `valley_tol / (n - P)`. `bench/valley.R` in the
#' package sources measures what the rule changes in the paper's studies.
#'
#' **Geodesic acceleration** (`accel = TRUE`, off by default). Each
#' Levenberg-Marquardt step \eqn{\delta} is bent along the curvature of the
#' regression function: \eqn{\delta + a/2} with
#' \eqn{(J^\top J + \lambda D) a = -J^\top f_{vv}}, where \eqn{f_{vv}} is the
#' second directional derivative of \eqn{f} along \eqn{\delta}, computed by a
#' finite difference of the analytic Jacobian. A bend larger than half the
#' step (in the norm of \eqn{D}) is not trusted, and the plain step is taken.
#' It costs one more pass over the data per trial step and removes the long
#' crawls of saturated gates; `bench/fit.R` measures it.
#'
#' **Variable projection** (`varpro = TRUE`, off by default). Linear and
#' constant experts (without output weights) enter \eqn{f} linearly: given the
#' gates' parameters \eqn{\beta}, the best experts' parameters \eqn{\psi} are
#' one linear least-squares solve. With `varpro = TRUE` such a fit runs
#' Levenberg-Marquardt on \eqn{\beta} alone, with \eqn{\psi} kept at its
#' optimum (Kaufman's variable projection): the step of \eqn{\beta} solves
#' the system reduced by the Schur complement of \eqn{J^\top J}, and every
#' trial \eqn{\beta} is judged with its optimal \eqn{\psi}. The SSE is the
#' same objective over the same box; only the path differs, so a fit can end
#' in a different local minimum. With a box, the experts' parameters are
#' kept at their optimum within it (those held at a bound are constants of the
#' reduced system). Other experts ignore the setting. An accepted step costs
#' two passes over the data instead of one, so it pays where the full solver
#' needs many more iterations: on the paper's Figure 1 study (`bench/study-ab.R`
#' in the package sources) it took about 0.6 of the time (0.47 to 0.63 in
#' three rounds with sigmoe 0.1.1), and 1% of its
#' linear-expert fits stopped at `maxit` (12% with the default solver), while
#' the default search on `MASS::mcycle` (133 rows) took 0.8 to 2.0 times as
#' long (`bench/strategy-varpro.R`). It is off by default because the over-specified fits of
#' linear experts stop at other points of their flat valleys (a lower SSE in
#' most sigmoid fits, a higher one in most softmax fits, by a median of 3e-5
#' and 5e-6 relative), and the slopes of their Voronoi losses and expert
#' errors change beyond the default solver's confidence intervals
#' (`bench/valley.R`): the stored studies and the vignettes' conclusions
#' use the default solver.
#'
#' **Trust-region steps** (`trust = TRUE`, off by default). Moré's
#' trust-region form of Levenberg-Marquardt, the algorithm of MINPACK's
#' `lmder` (and so of `minpack.lm::nls.lm()`), on the same normal
#' equations: each step minimises the linearised SSE within
#' \eqn{\|D p\| \le \Delta}, where \eqn{D} holds the largest column norms of
#' \eqn{J} seen so far in the fit, and the bound \eqn{\Delta} grows or shrinks
#' with the ratio of the actual to the predicted reduction; the damping
#' \eqn{\lambda} is solved from \eqn{\Delta} by the rules of MINPACK's
#' `lmpar` (in the eigen-basis of the scaled \eqn{J^\top J}) instead of being
#' updated by the gain ratio, and `lambda` is not used. From the same start in
#' the same coordinates its trial points are those of `nls.lm()` up to
#' rounding. `ftol` bounds both relative reductions and `xtol` the
#' bound \eqn{\Delta} relative to \eqn{\|D\theta\|}, as in MINPACK. It
#' removes the long crawls of the default steps along saturating gates, and on
#' the over-specified problems of `bench/damping.R` (in the package sources)
#' it ends in `nls.lm()`'s own minimum in 194 of 212 data sets, in a median
#' of as many iterations; it ends below the default steps' SSE less often
#' than above it, so it is off by default. With a box (`lower`/`upper` of [moe_fit()], a study's `bounds`)
#' it takes the default steps' active set: a parameter at a bound whose
#' descent direction points out of the box is held there, the step of the
#' others is found within the bound \eqn{\Delta} and projected onto the box,
#' and a step the box cut is judged by the linearised SSE's reduction at the
#' projected point. On the paper's Figure 1 study in its box
#' (`bench/valley.R` in the package sources) it took 1.1x to 1.2x the default
#' solver's time and moved 5 of its 16 mean-loss slopes out of the default
#' solver's 95% bootstrap CIs, the SSEs agreeing to a median 2e-9 relative.
#' `trust = TRUE` with `accel = TRUE` is an error.
#'
#' @param maxit Maximum number of Levenberg-Marquardt iterations per start, a
#'   whole number between 1 and 1e9.
#' @param ftol,xtol,gtol Tolerances of the stopping rules (see Details).
#' @param lambda Initial damping, relative to the diagonal of \eqn{J^\top J}.
#' @param threads Number of OpenMP threads for the elementwise work of the C
#'   core, at most: a whole number between 1 and 1024. Results do not depend
#'   on it. A call uses fewer threads when more would not pay or would not
#'   find a free core: never more than the processors OpenMP reports, its
#'   thread limit (`OMP_THREAD_LIMIT`), or the cores the other processes
#'   leave free (the processors minus their share of the 1-minute load
#'   average, or minus the other processes runnable at the time when they
#'   are fewer, since the average lags by a minute; rounded, at least 1; read
#'   at most once a second), and one thread
#'   per break-even number of rows (about 4000 rows per thread for a fit with
#'   12 parameters, fewer for larger models, 32000 for evaluating the model),
#'   since on a loaded machine a second thread waits for a core at every step
#'   and made small fits many times slower. [moe_threads()] shows the
#'   decision. A process forked from R (`parallel::mclapply()`,
#'   `future::multicore`) runs single-threaded whatever is asked, since GNU
#'   OpenMP cannot be used after a fork.
#' @param trace If `TRUE`, print the SSE, damping and gain ratio at every accepted
#'   iteration, and each rejected trial step.
#' @param start_rows A whole number >= 10: the data-driven starts are computed on at most this many
#'   rows (a random subsample for larger data); the local searches always use
#'   all rows.
#' @param jitter Standard deviation of the relative Gaussian noise added to
#'   every data-driven start after the first.
#' @param screen_rows,agree,agree_tol,min_starts,max_starts,hops,patience,hop_size,polish
#'   The default search of [moe_fit()] (`nstart = NULL`; see its section
#'   "The search"): data-driven starts run in batches of `agree + 1` on a
#'   random subsample of `screen_rows` rows (all rows when there are no
#'   more), until, after at least `min_starts` starts, the best SSE has been
#'   reached by `agree` starts within `agree_tol` relative, or `max_starts`
#'   starts have run; then moves from the best minimum (one expert replaced
#'   by that of a fresh start or of another good minimum; with one expert, a
#'   random jump of relative size `hop_size`, or a restart if it is 0) each
#'   start one more local search, until `patience` moves in a row did not
#'   lower the best SSE (by more than `agree_tol` relative) or `hops` moves
#'   have run; the
#'   `polish` best minima of the subsample with distinct fitted values are
#'   then refined on all the rows. `screen_rows` is a whole number >= 100,
#'   `agree` and `polish` between 1 and 1000, `min_starts` and `max_starts`
#'   between 1 and 1e5 with `min_starts <= max_starts` (a `max_starts` below
#'   the default `min_starts`, given without `min_starts`, lowers it to
#'   `max_starts`), `hops` between 0 (no moves) and 1e5, `patience` between 1
#'   and 1e5, `agree_tol` in \[0, 1\], `hop_size` a number >= 0.
#' @param accel If `TRUE`, geodesic acceleration of the steps (see Details).
#' @param valley_m,valley_tol The flat-valley rule (see Details): the
#'   look-back, a whole number between 1 and 1e9, and the tolerance in noise
#'   variances, a number >= 0 (0 turns the rule off).
#' @param varpro If `TRUE`, variable projection for linear and constant
#'   experts (see Details).
#' @param trust If `TRUE`, Moré's trust-region steps (see Details).
#' @returns A list of class `moe_control`.
#' @examples
#' moe_control(maxit = 500, threads = 2)
#' @export
moe_control <- function(maxit = 200L, ftol = 1e-8, xtol = 1e-8, gtol = 1e-8,
                        lambda = 1e-3, threads = getOption("sigmoe.threads", 1L),
                        trace = FALSE, start_rows = 5000L, jitter = 0.1,
                        screen_rows = 2000L, agree = 3L, agree_tol = 1e-6, min_starts = 20L,
                        max_starts = 50L, hops = 300L, patience = 60L, hop_size = 0.3,
                        polish = 3L, accel = FALSE, valley_m = 10L, valley_tol = 0,
                        varpro = FALSE, trust = FALSE) {
  if (missing(min_starts)) min_starts <- default_min_starts(min_starts, max_starts)
  control_validate(list(maxit = maxit, ftol = ftol, xtol = xtol, gtol = gtol, lambda = lambda,
                        threads = threads, trace = trace, start_rows = start_rows,
                        jitter = jitter, screen_rows = screen_rows, agree = agree,
                        agree_tol = agree_tol, min_starts = min_starts, max_starts = max_starts,
                        polish = polish, hops = hops, patience = patience, hop_size = hop_size,
                        accel = accel,
                        valley_m = valley_m, valley_tol = valley_tol, varpro = varpro,
                        trust = trust), "")
}

# Every setting checked, with messages that name it as the caller wrote it
# (`maxit`, or `control$maxit` for a control list or object).
control_validate <- function(v, prefix) {
  # every fit checks its control again; the same settings as the last call
  # (the defaults, most often) give the same object, so they are kept
  slot <- if (nzchar(prefix)) "object" else "call"
  last <- validated[[slot]]
  if (!is.null(last) && identical(v, last$input) && identical(prefix, last$prefix)) return(last$output)
  out <- control_validate_new(v, prefix)
  validated[[slot]] <- list(input = v, prefix = prefix, output = out)
  out
}

validated <- new.env(parent = emptyenv())

control_validate_new <- function(v, prefix) {
  arg <- function(name) paste0(prefix, name)
  out <- structure(list(
    maxit = check_whole(v$maxit, arg("maxit"), min = 1, max = 1e9),
    ftol = check_number(v$ftol, arg("ftol"), min = 0),
    xtol = check_number(v$xtol, arg("xtol"), min = 0),
    gtol = check_number(v$gtol, arg("gtol"), min = 0),
    lambda = check_number(v$lambda, arg("lambda"), min = 0, open_min = TRUE),
    threads = check_whole(v$threads, arg("threads"), min = 1, max = max_threads),
    trace = check_flag(v$trace, arg("trace")),
    start_rows = check_whole(v$start_rows, arg("start_rows"), min = 10),
    jitter = check_number(v$jitter, arg("jitter"), min = 0),
    screen_rows = check_whole(v$screen_rows, arg("screen_rows"), min = 100),
    agree = check_whole(v$agree, arg("agree"), min = 1, max = 1000),
    agree_tol = check_number(v$agree_tol, arg("agree_tol"), min = 0, max = 1),
    min_starts = check_whole(v$min_starts, arg("min_starts"), min = 1, max = 1e5),
    max_starts = check_whole(v$max_starts, arg("max_starts"), min = 1, max = 1e5),
    polish = check_whole(v$polish, arg("polish"), min = 1, max = 1000),
    hops = check_whole(v$hops, arg("hops"), min = 0, max = 1e5),
    patience = check_whole(v$patience, arg("patience"), min = 1, max = 1e5),
    hop_size = check_number(v$hop_size, arg("hop_size"), min = 0),
    accel = check_flag(v$accel, arg("accel")),
    valley_m = check_whole(v$valley_m, arg("valley_m"), min = 1, max = 1e9),
    valley_tol = check_number(v$valley_tol, arg("valley_tol"), min = 0),
    varpro = check_flag(v$varpro, arg("varpro")),
    trust = check_flag(v$trust, arg("trust"))
  ), class = "moe_control")
  if (out$trust && out$accel)
    stop(sprintf("`%s` and `%s` cannot both be TRUE: the acceleration bends the steps of the default damping.",
                 arg("trust"), arg("accel")), call. = FALSE)
  # the search stops at max_starts, so it could never run min_starts more
  if (out$min_starts > out$max_starts)
    stop(sprintf("`%s` must be <= `%s`, not %d > %d.", arg("min_starts"), arg("max_starts"),
                 out$min_starts, out$max_starts), call. = FALSE)
  out
}

# A max_starts given alone, below the default min_starts, lowers it to
# max_starts; a min_starts given above max_starts is an error
# (control_validate()).
default_min_starts <- function(min_starts, max_starts) {
  if (is_whole(max_starts) && max_starts >= 1) min(min_starts, max_starts) else min_starts
}

# The values of solver settings that replay a control object made before
# they existed: the steps had no geodesic acceleration, no flat-valley rule
# stopped a fit, no fit used variable projection or a trust region.
legacy_control <- list(accel = FALSE, valley_tol = 0, varpro = FALSE, trust = FALSE)

# The largest thread count accepted anywhere (MOE_MAX_THREADS in src/adapt.h).
max_threads <- 1024L

# A control object is checked again, whatever its class says: a hand-edited
# object must give an error, never reach the C solver unchecked.
check_control <- function(control) {
  # an object that validation gave out (most often the one moe_control() just
  # made) is valid as it is
  for (slot in c("call", "object")) {
    done <- validated[[slot]]$output
    if (!is.null(done) && identical(control, done)) return(done)
  }
  known <- names(formals(moe_control))
  if (is.list(control) && !is.null(names(control)) && all(nzchar(names(control)))) {
    bad <- setdiff(names(control), known)
    if (length(bad))
      stop(sprintf("`control` has unknown setting%s %s; known: %s.", if (length(bad) > 1) "s" else "",
                   paste0("\"", bad, "\"", collapse = ", "), paste(known, collapse = ", ")),
           call. = FALSE)
    # settings added after the first nine take their defaults when a control
    # object was made before them (a stored study's); the first nine must be
    # there, so a hand-edited object that lost one is still an error
    later <- setdiff(known, c("maxit", "ftol", "xtol", "gtol", "lambda", "threads", "trace",
                             "start_rows", "jitter"))
    full <- if (inherits(control, "moe_control")) {
      v <- unclass(control)
      absent <- setdiff(later, names(v))
      # an object older than a solver setting asks for the solver it knew
      if (length(absent)) c(v, utils::modifyList(unclass(moe_control()), legacy_control)[absent])
      else v
    } else utils::modifyList(unclass(moe_control()), control)
    if (!inherits(control, "moe_control") && is.null(control$min_starts))
      full$min_starts <- default_min_starts(full$min_starts, full$max_starts)
    return(control_validate(full, "control$"))
  }
  abort_arg("control", "a `moe_control()` object or a named list of its settings", control)
}

# The settings the solver reads (src/lsq.c), by name and in this order; the C
# side checks the names, so a setting can never be read from the wrong slot.
lsq_control_names <- c("maxit", "ftol", "xtol", "gtol", "lambda", "threads", "trace", "accel",
                       "valley_m", "valley_tol", "varpro", "trust")

lsq_control_vector <- function(control) {
  # the vector of the last control asked for is kept (most fits of a
  # session, and every fit of a search, use the same control)
  last_value(control_vector_last, list(control), function(control) {
    v <- unclass(control)[lsq_control_names]
    if (!all(lengths(v) == 1L)) stop("internal: a solver setting is not a single value.", call. = FALSE)
    stats::setNames(as.double(unlist(v, use.names = FALSE)), lsq_control_names)
  })
}

control_vector_last <- new.env(parent = emptyenv())
