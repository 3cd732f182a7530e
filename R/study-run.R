# Running the tasks of a convergence study: one task draws one data set and
# fits every gate to it, each gate from its own sub-stream of the task's
# random stream.

# The near-truth start of SPEC section 5 (see ?convergence_study).
near_truth_start <- function(truth, k, split, init_sd) {
  kt <- truth$k
  if (k >= kt) {
    copies <- rep(1L, kt)
    if (k > kt) copies <- copies + tabulate(split, nbins = kt)
    idx <- rep(seq_len(kt), copies)
    m <- copies[idx]
  } else {
    w <- atom_weights(truth)
    idx <- sort(order(-w, seq_len(kt))[seq_len(k)])
    m <- rep(1L, k)
  }
  beta0 <- truth$beta0[idx]
  beta1 <- truth$beta1[idx, , drop = FALSE]
  if (truth$gating == "softmax") {
    beta0 <- beta0 - log(m)
    beta0 <- beta0 - beta0[k]
    beta1 <- sweep(beta1, 2L, beta1[k, ])
  } else {
    beta0 <- stats::qlogis(stats::plogis(beta0) / m)
  }
  p <- moe_params(beta0 = beta0, beta1 = beta1,
                  a = if (truth$expert == "constant") NULL else truth$a[idx, , drop = FALSE],
                  b = truth$b[idx], gating = truth$gating, expert = truth$expert,
                  degree = truth$degree)
  if (init_sd > 0) {
    theta <- params_theta(p)
    p <- theta_params(theta + stats::rnorm(length(theta), 0, init_sd), p)
  }
  p
}

# The sub-stream of gate g within a task's stream.
gate_seed <- function(seed, g) {
  for (i in seq_len(gating_code(g))) seed <- parallel::nextRNGSubStream(seed)
  seed
}

# Run one task (all gates on one data set), store it in the cache and signal
# progress. Runs on the workers.
study_task_run <- function(task, setup, progressor = NULL) {
  rows <- study_task_compute(task, setup, setup$gating)$rows
  out <- list(id = task$id, expert = task$expert, n = task$n, rep = task$rep,
              seed = task$seed, rows = rows)
  if (!is.null(setup$cache_dir)) cache_write(setup$cache_dir, task$id, out)
  if (!is.null(progressor)) progressor()
  out
}

study_task_compute <- function(task, setup, gatings, keep = FALSE) {
  prev <- blas_threads(1L)
  if (!is.na(prev) && prev != 1L) on.exit(blas_threads(prev), add = TRUE)
  e <- task$expert
  tr <- setup$truths[[e]]
  n <- task$n
  rng_set(task$seed)
  x <- draw_inputs(setup$x_law, n, setup$d, "x_law")
  y <- model_eval(tr$data, x) + stats::rnorm(n, 0, setup$sd)
  kt <- tr$data$k
  cols <- list()
  fits <- list()
  seed_text <- paste(task$seed, collapse = ",")
  for (g in gatings) {
    rng_set(gate_seed(task$seed, g))
    tg <- tr$fit[[g]]
    near <- setup$init == "near_truth" && !is.null(tg)
    start <- if (near) near_truth_start(tg, setup$k, setup$split, setup$init_sd) else NULL
    t0 <- proc.time()[["elapsed"]]
    fit <- tryCatch(
      moe_fit(x, y, setup$k, gating = g, expert = e, degree = tr$data$degree, start = start,
              nstart = if (near) 0L else setup$nstart, control = setup$control),
      error = function(err) err)
    secs <- proc.time()[["elapsed"]] - t0
    row <- list(expert = e, gating = g, n = n, rep = task$rep, task = task$id,
                misspecified = is.null(tg), init = if (near) "near_truth" else "multistart")
    failed <- inherits(fit, "error")
    lb <- setup$losses$builtin
    if ("voronoi" %in% lb)
      row$voronoi <- if (failed || is.null(tg)) NA_real_
                     else as.numeric(voronoi_compute(fit$coefficients, tg))
    if ("expert_error" %in% lb) {
      ee <- if (failed) rep(NA_real_, kt)
            else as.numeric(expert_error_compute(fit$coefficients, if (is.null(tg)) tr$data else tg,
                                                 setup$x_eval))
      row$expert_error <- max(ee)
      for (j in seq_len(kt)) row[[paste0("expert_error", j)]] <- ee[j]
    }
    if ("l2" %in% lb)
      row$l2 <- if (failed) NA_real_
                else regression_error(fit$coefficients, setup$x_eval, setup$f_eval[[e]])
    for (nm in names(setup$losses$custom)) {
      v <- if (failed) NA_real_
           else setup$losses$custom[[nm]](fit, if (is.null(tg)) tr$data else tg, setup$x_eval)
      if (!is.numeric(v) || length(v) != 1L)
        stop(sprintf("The loss function `%s` must return one number, not %s.", nm, describe_value(v)),
             call. = FALSE)
      row[[nm]] <- as.numeric(v)
    }
    row$sse <- if (failed) NA_real_ else fit$sse
    row$code <- if (failed) NA_integer_ else as.integer(fit$convergence$code)
    row$converged <- if (failed) FALSE else isTRUE(fit$convergence$converged)
    row$iterations <- if (failed) NA_integer_ else as.integer(fit$convergence$iterations)
    row$seconds <- secs
    row$error <- if (failed) conditionMessage(fit) else NA_character_
    row$seed <- seed_text
    cols[[g]] <- row
    if (keep) fits[[g]] <- list(fit = fit, start = start)
  }
  # a list of columns, one element per gate: cheap to store and to bind
  nms <- names(cols[[1L]])
  rows <- lapply(nms, function(nm) unlist(lapply(cols, `[[`, nm), use.names = FALSE))
  names(rows) <- nms
  out <- list(rows = rows)
  if (keep) {
    out$fits <- fits
    out$data <- data.frame(x, y = y)
  }
  out
}

# Row-bind lists of equal-named columns (data frames or lists) quickly.
bind_rows_list <- function(parts) {
  parts <- parts[lengths(parts) > 0L]
  if (!length(parts)) return(data.frame())
  nms <- names(parts[[1L]])
  cols <- lapply(seq_along(nms), function(j) unlist(lapply(parts, `[[`, j), use.names = FALSE))
  names(cols) <- nms
  as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE)
}

run_study_tasks <- function(pending, setup, progress) {
  use_future <- requireNamespace("future.apply", quietly = TRUE)
  # the processing order deals every chunk a mix of sample sizes, so that the
  # chunks of the workers cost about the same; it never changes the results
  ord <- order(vapply(pending, `[[`, integer(1), "rep"),
               match(vapply(pending, `[[`, character(1), "expert"), setup$expert),
               -vapply(pending, `[[`, integer(1), "n"))
  run <- function(p) {
    if (use_future) {
      future.apply::future_lapply(
        pending, study_task_run, setup = setup, progressor = p,
        future.seed = lapply(pending, `[[`, "seed"),
        future.scheduling = structure(2, ordering = ord),
        future.packages = "sigmoe", future.label = "sigmoe-study-%d")
    } else {
      lapply(pending, study_task_run, setup = setup, progressor = p)
    }
  }
  if (isFALSE(progress) || !requireNamespace("progressr", quietly = TRUE)) return(run(NULL))
  body <- function() run(progressr::progressor(steps = length(pending)))
  # progressr itself stays silent in non-interactive sessions unless enabled
  if (isTRUE(progress) || (is.null(progress) && interactive()))
    progressr::with_progress(body(), enable = TRUE)
  else body()
}
