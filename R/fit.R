#' Fit a mixture of experts by least squares
#'
#' Minimises \eqn{\sum_i (Y_i - f_G(X_i))^2} over the parameters of a
#' k-expert model with the given gate and expert (see [moe_params()]). The
#' objective is not convex: every start (the user's `start`, then `nstart`
#' data-driven starts) runs one Levenberg-Marquardt search in C with the
#' analytic Jacobian, and the fit keeps the one with the smallest SSE. The
#' SSE of every start is kept in `$starts`.
#'
#' Data-driven starts project the (standardised) inputs on a direction (the
#' first principal axis for the first start, random directions after), cut the
#' projection at quantiles into k pieces and build gates that switch between
#' the pieces (softmax and normalized sigmoid: nearest-centre logits; sigmoid:
#' one global gate plus threshold gates with alternating sides). The experts
#' are then fitted jointly by linear least squares given those gates, and the
#' linear pieces are mapped to each expert's parameters through its
#' first-order expansion. Starts after the first get relative Gaussian noise
#' (`control$jitter`). Everything random comes from R's generator, so
#' `set.seed()` reproduces a fit.
#'
#' @section The search:
#' By default (`nstart = NULL`) the fit screens data-driven starts on a
#' random subsample of `control$screen_rows` rows (all rows when there are
#' fewer), in batches, until at least `control$min_starts` have run and the
#' best SSE has been reached by `control$agree` of them (the minimum is then
#' found from several basins), or `control$max_starts` have run. It then
#' moves from the best minimum found so far: each move is one more local
#' search, started from that minimum with one expert (its gate and its
#' expert parameters) replaced by an expert of a fresh data-driven start
#' (`"swap"`) or of another of the best minima (`"cross"`); a one-expert
#' fit, for which these are restarts, jumps instead, moving every parameter
#' at random (`"jump"`, basin hopping). The moves stop once
#' `control$patience` of them in a row found nothing better, or after
#' `control$hops`. Last, the `control$polish` best minima of the subsample
#' whose fitted values differ (by more than 2% of the residual standard
#' deviation) are refined on all the rows: minima that the subsample's noise
#' cannot rank are all tried. Every start stays in `$starts`, with its
#' `stage` (`"screen"`, `"polish"` or `"full"`) and `source` (`"user"`,
#' `"data"`, `"swap"`, `"cross"` or `"jump"`).
#'
#' On the package's benchmark (`bench/multistart.R`: the README's model at
#' n = 1e3 and 1e4, `MASS::mcycle` with 2 to 4 ReLU experts, a model with
#' three inputs), the default fit ends within 0.1% of the best SSE of 200
#' random starts in all 80 cases, and in all 110 cases of a held-out set of
#' seeds (the previous search, random starts and random jumps only: 75 and
#' 99); the moves matter where a random start finds the best basin once in
#' hundreds. It is less sure on other models (linear experts, experts with
#' output weights): 126 of 145 (previous search: 103); a longer search is a
#' matter of `control$min_starts`, `control$max_starts` and
#' `control$patience`. Small fits pay for the moves: a fit of a few hundred
#' to ten thousand rows takes 1.5 to 4.2 times as long as with the previous
#' search. At n = 1e5 to 1e6 a fit costs a few times one local search from
#' the best start, since the screening and the moves run on the subsample.
#'
#' @section Warnings:
#' A fit warns, with a classed condition that inherits from
#' `"sigmoe_fit_warning"` (catch one kind or all with [withCallingHandlers()]
#' or [suppressWarnings()] with `classes =`), when
#' * it did not converge (`"sigmoe_not_converged"`, e.g. `maxit` reached);
#' * the best SSE was reached by only one start (`"sigmoe_single_best"`):
#'   the global minimum may have been missed;
#' * its SSE is not below that of the intercept-only model
#'   (`"sigmoe_no_better_than_mean"`);
#' * parameters ended at a bound of the box (`"sigmoe_at_bound"`), or ran off
#'   (`"sigmoe_runaway"`): a gating slope so steep that the gate switches
#'   within a thousandth of the standard deviation of its input, or an expert
#'   slope (with output weights, \eqn{c_i a_i}{c_i a_i}: both are named) a
#'   thousand times steeper than the response's spread allows.
#' A singular information is reported by [vcov()][vcov.moe_fit]
#' (`"sigmoe_singular_information"`). The flags are kept in
#' `fit$diagnostics`.
#'
#' @section Scale and location:
#' The fit is equivariant to the location and scale of the data: it works in
#' coordinates where x is centred (when a column's mean is more than 4
#' standard deviations from 0, and the box leaves the intercepts `beta0` and
#' `b` free) and scaled by a power of two (when a column's standard deviation
#' is outside \[1/16, 16\]), and y is scaled by a power of two (when its root
#' mean square is outside \[1/16, 16\], for the linear, ReLU, polynomial and
#' constant experts, whose output scale is a scale of their parameters). The
#' starts and the box are mapped into those coordinates and the solution is
#' mapped back exactly, so a fit of `a * x + c` is the fit of `x` after the
#' change of variables. Data of ordinary size are used as they are. The map
#' is in `fit$scaling`. The coefficients in the data's coordinates carry
#' \eqn{\beta_0 - \beta_1 c}{beta0 - beta1 c} for a centre c, whose evaluation
#' loses about |c| / sd(x) roundings; so the fitted values and residuals of a
#' centred fit are computed in the fit's coordinates, where they keep the
#' precision of the SSE, while [predict()][predict.moe_fit] on `newdata`
#' evaluates the coefficients, as [stats::predict.lm()] does.
#'
#' @section The compact parameter set (`lower`, `upper`):
#' The least-squares theory takes the minimum over a compact parameter set;
#' without one an over-specified fit can run off (gates turning into steps,
#' surplus weights or slopes growing without bound). `lower` and `upper` state
#' that set as a box on every free parameter. Each is a number, applied to
#' every free parameter, or a named list in the layout of [moe_params()]
#' (`beta0`, `beta1`, `a`, `b`), each element a number or an array of the
#' parameter's full size (for example `upper = list(beta1 = 10)`); blocks left
#' out are unbounded. The box must contain every `start` (an error otherwise);
#' data-driven starts are moved into it.
#'
#' The solver enforces the box by a projected, active-set Levenberg-Marquardt
#' method: at each iteration a parameter at a bound whose descent direction
#' points out of the box is held there, the step of the others is projected
#' onto the box, and a step is accepted by its actual against its predicted
#' reduction at the projected point. It stops where the bound-constrained
#' first-order conditions hold to the tolerances of [moe_control()]: the
#' gradient test runs over the parameters not held at a bound. A fit in which
#' no bound is ever reached is bit-identical to the fit without bounds. The
#' parameters that end at a bound are flagged in `at_bound`; [summary()],
#' [vcov()][vcov.moe_fit] and [confint()][confint.moe_fit] give them `NA`
#' standard errors, since a Wald interval there would leave the box.
#'
#' @param x Inputs: an n x d numeric matrix (or data frame of numeric
#'   columns), or a numeric vector when d = 1.
#' @param y Responses, a numeric vector of length n (a logical one counts as 0 and 1,
#'   as in [stats::lm()]).
#' @param k Number of experts, a whole number between 1 and 10000 (and no more
#'   free parameters than observations).
#' @inheritParams moe_params
#' @param start `NULL`, a [moe_params()] object or a list of them: starts
#'   that run in addition to the `nstart` data-driven ones (so `nstart = 0`
#'   with one `start` runs exactly one local search from it).
#' @param nstart `NULL` (the default) for the default search, which decides
#'   itself how many data-driven starts to run (see the section on the search
#'   and [moe_control()]); or a fixed number of data-driven starts, a whole
#'   number between 0 and 1e5, each run on all the data.
#' @param control Solver settings, see [moe_control()].
#' @param weights `NULL` or observation weights, n finite numbers >= 0: the fit
#'   minimises \eqn{\sum_i w_i (Y_i - f_G(X_i))^2}{sum_i w_i (Y_i - f_G(X_i))^2}.
#'   As for [stats::nls()], `deviance()` is the weighted SSE, observations of
#'   weight 0 do not count in `nobs()` and the residual degrees of freedom,
#'   `sigma()`, `vcov()`, `logLik()` (and so `AIC()`, `BIC()`) are those of
#'   weighted least squares, and `residuals()` are \eqn{Y_i - \hat f(X_i)}{Y_i - fhat(X_i)}
#'   (`type = "pearson"` multiplies them by \eqn{\sqrt{w_i}}{sqrt(w_i)} and
#'   divides by `sigma()`). Integer weights give the fit of the data with each
#'   row repeated that many times.
#' @param offset `NULL` or n known values added to the regression function:
#'   the model is \eqn{Y_i = o_i + f_G(X_i) + \epsilon_i}{Y_i = o_i + f_G(X_i) + e_i}, and
#'   `fitted()` includes \eqn{o_i}{o_i}.
#' @param output_weight If `TRUE`, every expert gets an output weight
#'   \eqn{c_i}{c_i}: \eqn{c_i h(a_i^\top x + b_i)}{c_i h(a_i'x + b_i)}, so that
#'   non-linear experts can fit a response of either sign and any scale (see
#'   the section on output weights in [moe_params()], which says which
#'   experts are then identified). Not for linear and constant experts. The
#'   default, `FALSE`, fits the experts of the theory.
#' @param lower,upper The box of the parameter set: each a number or a named
#'   list of `beta0`, `beta1`, `a`, `b` bounds (see the section on the compact
#'   parameter set). The defaults, `-Inf` and `Inf`, leave the parameters free.
#' @returns An object of class `moe_fit`, with methods `print`, `summary`,
#'   `coef` (the fitted [moe_params()]), `fitted`, `residuals`, `predict`,
#'   `plot`, `logLik`, `AIC`, `BIC`, `nobs`, `deviance`, `sigma`, `vcov` and
#'   `confint`. Its elements include `theta` (the free parameters),
#'   `convergence` (code, message, iterations, SSE trace), `starts`,
#'   `lower` and `upper` (the box as vectors in the order of `theta`) and
#'   `at_bound` (logical, per free parameter: at a finite bound).
#' @seealso [moe()] for the formula interface.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 500, sd = 0.05)
#' fit <- moe_fit(d$x1, d$y, k = 2)
#' fit
#' coef(fit)
#' @export
moe_fit <- function(x, y, k, gating = "sigmoid", expert = "relu", degree = NULL,
                    start = NULL, nstart = NULL, control = moe_control(),
                    lower = -Inf, upper = Inf, weights = NULL, offset = NULL,
                    output_weight = FALSE) {
  cl <- match.call()
  if (missing(k)) abort_missing("k", "the number of experts, a whole number >= 1")
  pin_blas_threads()
  x <- check_x(x, "x")
  if (anyDuplicated(colnames(x)))
    stop(sprintf(paste0("`x` has the column name \"%s\" more than once; inputs must have distinct ",
                        "names, which predict() matches."), colnames(x)[anyDuplicated(colnames(x))]),
         call. = FALSE)
  n <- nrow(x)
  if (n == 0L) stop("`x` must have at least one row (one per observation), not 0.", call. = FALSE)
  y <- check_y(y, n)
  d <- ncol(x)
  weights <- check_weights(weights, n)
  offset <- check_offset(offset, n)
  k <- check_whole(k, "k", min = 1, max = 1e4)
  gating <- check_choice(gating, gating_types, "gating")
  expert <- check_choice(expert, expert_types, "expert")
  degree <- check_degree(degree, expert)
  output_weight <- check_flag(output_weight, "output_weight")
  if (output_weight && expert %in% c("linear", "constant"))
    stop(sprintf(paste0("`output_weight` must be FALSE for the %s expert, whose scale is already a ",
                        "parameter: with it the model would not be identified."), expert), call. = FALSE)
  npar <- n_free_params(k, d, gating, expert, output_weight)
  n_obs <- if (is.null(weights)) n else sum(weights > 0)
  if (npar > n_obs)
    stop(sprintf(paste0("`k` = %d is more than the data can identify: the model has %d free ",
                        "parameters but there are only %d observations%s."), k, npar, n_obs,
                 if (is.null(weights)) "" else " of positive weight"),
         call. = FALSE)
  if (!is.null(nstart)) nstart <- check_whole(nstart, "nstart", min = 0, max = 1e5)
  control <- check_control(control)
  template <- fit_template(k, d, gating, expert, degree, output_weight, x_names(x))
  box <- box_theta(lower, upper, template)
  user <- check_starts(start, template, box)
  if (length(user) == 0L && identical(nstart, 0L))
    stop("`nstart` must be >= 1 when no `start` is given, not 0.", call. = FALSE)

  # the offset is known: the experts fit what is left of y
  y_fit <- if (is.null(offset)) y else y - offset
  # the search runs in the fit's own coordinates (R/scaling.R)
  sc <- fit_scaling(x, y_fit, template, box)
  dat <- scale_data(sc, x, y_fit)
  box_fit <- scale_box(sc, box, template)
  prob <- list(x = dat$x, y = dat$y, sw = if (is.null(weights)) NULL else sqrt(weights),
               spec = params_spec(template), ctl = lsq_control_vector(control), box = box_fit,
               yscale = sc$yscale)
  user_runs <- run_starts(lapply(user, scale_theta, sc = sc, template = template, to = "fit"), prob)
  parts <- list(runs_table(user_runs, "user", "full", sc$yscale))
  runs <- user_runs
  if (is.null(nstart)) {
    search <- adaptive_search(prob, template, control, weights)
    runs <- c(runs, search$runs)
    parts <- c(parts, search$table)
  } else if (nstart > 0L) {
    data_runs <- run_starts(lapply(data_starts(dat$x, dat$y, template, nstart, control, weights),
                                   box_project, box = box_fit), prob)
    runs <- c(runs, data_runs)
    parts <- c(parts, list(runs_table(data_runs, "data", "full", sc$yscale)))
  }
  starts <- starts_table(parts)
  # the runs on all the data compete; screening runs saw a subsample
  best <- best_run(runs, sc$yscale)
  fit <- new_moe_fit(best, template, x, y, starts, control, cl, box, sc, weights, offset, dat$x)
  fit$diagnostics <- fit_diagnostics(fit, control)
  fit_warn(fit)
  fit
}

# The mixing measure of zeros with the structure of the model being fitted,
# whose gate slopes are named after the inputs; fits ask for the same few
# again and again.
fit_template <- function(k, d, gating, expert, degree, output_weight, xnames) {
  cached_value(template_cache, list(k, d, gating, expert, degree, output_weight, xnames),
               function(k, d, gating, expert, degree, output_weight, xnames)
                 moe_params(beta0 = numeric(k), beta1 = matrix(0, k, d, dimnames = list(NULL, xnames)),
                            a = matrix(0, k, d), b = numeric(k), gating = gating, expert = expert,
                            degree = degree, c = if (output_weight) rep(1, k)))
}

template_cache <- new.env(parent = emptyenv())

# What a user must hear about a fit: each a classed condition that inherits
# from "sigmoe_fit_warning", so a caller can catch one kind or all of them.
fit_diagnostics <- function(fit, control) {
  fit <- unclass(fit)  # plain `$`, without a look for methods
  st <- unclass(fit$starts)
  # the SSEs of the starts that compete for the minimum: all of them on all
  # the data, or the screening starts on their subsample (the polished ones
  # are few)
  pool <- if (any(st$stage == "screen")) st$sse[st$stage == "screen"] else st$sse
  pool_best <- min(pool[is.finite(pool)])
  n_best <- sum(near_best(pool, pool_best, control$agree_tol))
  target <- if (is.null(fit$offset)) fit$y else fit$y - fit$offset
  w <- fit$weights
  # unweighted, the same sums with w = 1, without its n-long temporaries
  sse0 <- if (is.null(w)) sum((target - sum(target) / length(target))^2)
          else sum(w * (target - sum(w * target) / sum(w))^2)
  list(converged = isTRUE(fit$convergence$converged), n_starts = length(pool), n_best = n_best,
       sse_intercept = sse0, at_bound = names(fit$theta)[fit$at_bound],
       runaway = runaway_parameters(fit))
}

# Parameters that have run off: a gate so steep that it switches within a
# thousandth of the spread of its input (a step, not a gate), or an expert
# whose output changes a thousand times faster than the response does. With
# output weights an expert's slope is c_i a_i (a huge weight can make up for
# a gate that is all but off), and both are named.
runaway_parameters <- function(fit) {
  fit <- unclass(fit)
  p <- unclass(fit$coefficients)
  # the standard deviation of each input from the spread the fit's scaling
  # computed (no copies of x); a single observation has none: then 1, as for
  # a constant
  n <- nrow(fit$x)
  sx <- unclass(fit$scaling)$spread * sqrt(n / (n - 1))
  sx[!is.finite(sx) | sx <= 0] <- 1
  # the standard deviation of y, from its root mean square deviation about
  # the mean (in C, without overflow; NaN for a single observation)
  sy <- .Call(C_col_spread, fit$y, sum(fit$y) / n) * sqrt(n / (n - 1))
  if (!is.finite(sy) || sy <= 0) sy <- 1
  # column j of beta1 and a times sx[j]
  sxk <- rep(sx, each = p$k)
  steep <- abs(p$beta1) * sxk > 1e3
  # the expert's slope in each input; rows of a times |c_i|
  loud <- abs(p$a) * (if (is.null(p$c)) 1 else abs(p$c)) * sxk > 1e3 * sy
  if (!any(steep) && !any(loud)) return(character(0))
  lay <- params_layout(p)
  at <- lay$expert + (pmax(lay$column, 1L) - 1L) * p$k
  loud_expert <- rowSums(loud) > 0
  hit <- (lay$block == "beta1" & steep[at]) | (lay$block == "a" & loud[at]) |
    (lay$block == "c" & loud_expert[lay$expert])
  lay$name[hit]
}

fit_warn <- function(fit) {
  out <- fit
  fit <- unclass(fit)
  dg <- fit$diagnostics
  warn <- function(class, msg)
    warning(structure(class = c(class, "sigmoe_fit_warning", "warning", "condition"),
                      list(message = msg, call = NULL)))
  if (!dg$converged)
    warn("sigmoe_not_converged", sprintf(paste0("The fit did not converge: %s (code %d) after %d ",
                                               "iterations; raise `control$maxit`, try ",
                                               "`control = moe_control(accel = TRUE)` (for a crawl ",
                                               "along a saturating gate) or check the model."),
                                        fit$convergence$message, fit$convergence$code,
                                        fit$convergence$iterations))
  if (dg$n_starts > 1L && dg$n_best == 1L)
    warn("sigmoe_single_best", sprintf(paste0("The best SSE was reached by only 1 of %d starts: the ",
                                             "global minimum may not have been found; try more ",
                                             "starts (`control$max_starts`, `nstart`)."), dg$n_starts))
  if (fit$sse >= dg$sse_intercept)
    warn("sigmoe_no_better_than_mean", sprintf(paste0("The fit's SSE (%s) is not below that of the ",
                                                     "intercept-only model (%s): the experts explain ",
                                                     "nothing; check the expert type and k%s."),
                                              format(fit$sse, digits = 4),
                                              format(dg$sse_intercept, digits = 4),
                                              bounded_expert_hint(fit)))
  if (length(dg$at_bound))
    warn("sigmoe_at_bound", sprintf("%d parameter%s ended at a bound of the box: %s.", length(dg$at_bound),
                                    if (length(dg$at_bound) == 1L) "" else "s", bound_list(fit)))
  if (length(dg$runaway))
    warn("sigmoe_runaway", sprintf(paste0("%d parameter%s ran off (%s): a gate turned into a step or ",
                                         "an expert far steeper than the data; bound them with ",
                                         "`lower`/`upper` or use fewer experts."),
                                  length(dg$runaway), if (length(dg$runaway) == 1L) "" else "s",
                                  name_list(dg$runaway, max = 4L)))
  invisible(out)
}

# Experts of the theory whose output has a fixed sign or range (a ReLU
# expert is never negative, a sigmoid expert stays in (0, 1)) cannot follow a
# response outside it, whatever their gates: the usual reason a fit is no
# better than the mean, and what output weights are for.
bounded_expert_hint <- function(fit) {
  ranges <- c(relu = "is never negative", gelu = "is never below -0.17",
              sigmoid = "stays in (0, 1)", tanh = "stays in (-1, 1)")
  if (!is.null(fit$coefficients$c) || !fit$expert %in% names(ranges)) return("")
  sprintf("; a %s expert's output %s: `output_weight = TRUE` lets it take any sign and scale",
          fit$expert, ranges[[fit$expert]])
}

# Observation weights: NULL, or n finite numbers >= 0, not all 0.
check_weights <- function(weights, n) {
  weights <- check_per_observation(weights, n, "weights", "NULL or a numeric vector of observation weights")
  if (is.null(weights)) return(NULL)
  bad <- which(!is.finite(weights) | weights < 0)
  if (length(bad))
    stop(sprintf("`weights` must be finite numbers >= 0; element %d is %s.", bad[1L],
                 format(weights[bad[1L]])), call. = FALSE)
  if (!any(weights > 0)) stop("`weights` must not all be 0.", call. = FALSE)
  weights
}

# An offset: NULL, or n finite numbers added to the model's regression function.
check_offset <- function(offset, n) {
  offset <- check_per_observation(offset, n, "offset", "NULL or a numeric vector, one value per observation")
  if (!is.null(offset)) check_finite_numeric(offset, "offset")
  offset
}

# NULL, or one number per observation (a vector or a one-column matrix), as a
# double vector.
check_per_observation <- function(v, n, arg, expected) {
  if (is.null(v)) return(NULL)
  if (!is.numeric(v) || !is.null(dim(v)) && length(dim(v)) > 1L && ncol(v) != 1L)
    abort_arg(arg, expected, v)
  v <- as.double(v)
  if (length(v) != n)
    stop(sprintf("`%s` must have one value per observation (n = %d), not %d values.", arg, n,
                 length(v)), call. = FALSE)
  v
}

# One Levenberg-Marquardt search of the solver (src/lsq.c) from theta, with
# the settings of lsq_control_vector(): the one call of the C solver. Bounds
# on theta are vectors of its length, NULL for none; observation weights
# enter as their square roots, NULL for none.
lsq_search <- function(spec, theta, x, y, ctl, lower = NULL, upper = NULL, sqrt_weights = NULL) {
  .Call(C_lsq_fit, spec, theta, x, y, ctl, lower, upper, sqrt_weights)
}

# User starts: NULL, one moe_params, or a list of them, each matching the
# model being fitted (and inside the box). Returns the list of their
# parameter vectors theta.
check_starts <- function(start, template, box = NULL) {
  if (is.null(start)) return(list())
  if (inherits(start, "moe_params")) start <- list(start)
  if (!is.list(start) || length(start) == 0L)
    abort_arg("start", "NULL, a `moe_params` object or a list of them", start)
  thetas <- vector("list", length(start))
  tp <- unclass(template)  # plain `$`, without a look for methods
  for (s in seq_along(start)) {
    p <- start[[s]]
    # the names in messages, built only for one
    delayedAssign("arg", if (length(start) > 1L) sprintf("start[[%d]]", s) else "start")
    delayedAssign("what", sprintf("`%s`", arg))
    if (!inherits(p, "moe_params"))
      stop(sprintf("%s must be a `moe_params` object, not %s.", what, describe_value(p)), call. = FALSE)
    check_params(p, arg)
    p <- unclass(p)
    # the first field in which the start's structure differs from the model's
    field <- if (!identical(as.integer(p$k), tp$k)) "k"
             else if (!identical(as.integer(p$d), tp$d)) "d"
             else if (!identical(p$gating, tp$gating)) "gating"
             else if (!identical(p$expert, tp$expert)) "expert"
             else if (!identical(p$degree, tp$degree)) "degree"
             else if (!identical(is.null(p$c), is.null(tp$c))) "c"
    if (!is.null(field)) {
      # output weights are a vector, one per expert: what differs is whether
      # there are any, which is what the message says
      if (field == "c")
        stop(if (is.null(tp$c))
               sprintf(paste0("%s has output weights `c` but the model being fitted has none; ",
                              "pass `output_weight = TRUE` or a start without them."), what)
             else
               sprintf(paste0("%s has no output weights `c` but the model being fitted has them ",
                              "(`output_weight = TRUE`); give the start weights `c`."), what),
             call. = FALSE)
      show <- function(v) if (is.null(v)) "none" else format(v)
      stop(sprintf("%s has %s = %s but the model being fitted has %s = %s.", what, field,
                   show(p[[field]]), field, show(tp[[field]])), call. = FALSE)
    }
    shaped <- length(p$beta0) == tp$k && length(p$b) == tp$k &&
      identical(dim(p$beta1), c(tp$k, tp$d)) && identical(dim(p$a), c(tp$k, tp$d))
    theta <- if (shaped) params_theta(p)
    if (!shaped || !all(is.finite(theta)))
      stop(sprintf("%s must have finite parameters of the model's shape (k = %d, d = %d).",
                   what, tp$k, tp$d), call. = FALSE)
    if (gate_reference(tp$gating, tp$k) && (p$beta0[p$k] != 0 || any(p$beta1[p$k, ] != 0)))
      stop(sprintf("%s: the %s must have beta0 and beta1 equal to 0.", what,
                   reference_name(tp$gating)), call. = FALSE)
    if (!is.null(box)) {
      out <- which(box_outside(theta, box))
      if (length(out))
        stop(sprintf("%s must lie in the box of `lower` and `upper`: %s = %s is outside [%s, %s].",
                     what, names(theta)[out[1L]], format(theta[[out[1L]]]),
                     format(box$lower[[out[1L]]]), format(box$upper[[out[1L]]])), call. = FALSE)
    }
    thetas[[s]] <- theta
  }
  thetas
}

new_moe_fit <- function(run, template, x, y, starts, control, call, box, scaling, weights,
                        offset, x_fit = NULL) {
  theta_fit <- run$theta
  names(theta_fit) <- params_layout(template)$name
  theta <- scale_theta(scaling, theta_fit, template, "data")
  sc <- unclass(scaling)
  ys2 <- sc$yscale^2
  run$sse <- run$sse * ys2
  run$trace <- run$trace * ys2
  run$jtj <- scale_jtj(sc, run$jtj, template)
  params <- theta_params(theta, template)
  # theta is params' free vector, so the model is evaluated from it directly;
  # when x was centred, in the fit's coordinates (x_fit), where the SSE was
  # minimised: in the data's, beta0 - beta1 centre cancels and the fitted
  # values lose |centre| / spread roundings (f = yscale f_fit, exactly)
  fitted <- if (!is.null(x_fit) && any(sc$center != 0))
    sc$yscale * model_eval_theta(params_spec(template), theta_fit, x_fit, threads = control$threads)
  else model_eval_theta(params_spec(template), theta, x, threads = control$threads)
  if (!is.null(offset)) fitted <- fitted + offset
  names(fitted) <- names(y)
  # as nls: observations of weight 0 do not count
  n <- if (is.null(weights)) nrow(x) else sum(weights > 0)
  npar <- length(theta)
  jtj <- run$jtj
  dimnames(jtj) <- list(names(theta), names(theta))
  tp <- unclass(template)
  # a list classed as structure() would make it, without its overhead
  fit <- list(
    coefficients = params,
    theta = theta,
    fitted.values = fitted,
    residuals = y - fitted,
    sse = run$sse,
    nobs = n,
    npar = npar,
    df.residual = n - npar,
    sigma = if (n > npar) sqrt(run$sse / (n - npar)) else NaN,
    weights = weights,
    offset = offset,
    x = x,
    xnames = colnames(tp$beta1),  # x_names(x), as the template has them
    y = y,
    gating = tp$gating,
    expert = tp$expert,
    degree = tp$degree,
    k = tp$k,
    d = tp$d,
    convergence = list(code = run$code, message = run$message, converged = run$converged,
                       iterations = run$iterations, evaluations = run$evaluations,
                       trace = run$trace),
    starts = starts,
    lower = box$lower,
    upper = box$upper,
    at_bound = box_at_bound(theta, box),
    jtj = jtj,
    scaling = scaling,
    control = control,
    call = call
  )
  class(fit) <- "moe_fit"
  fit
}
