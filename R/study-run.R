# Running the tasks of a convergence study: one task draws one data set and
# fits every gate to it, each gate from its own sub-stream of the task's
# random stream, and records one row of losses per fit.

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
    box <- study_fit_box(setup, g)
    reps <- study_task_starts(setup, e, g)
    start <- lapply(reps, noisy_start, init_sd = setup$init_sd, lower = box$lower, upper = box$upper)
    init <- if (length(reps)) setup$init else "multistart"
    nstart <- if (init == "near_truth") 0L else setup$nstart
    kinds <- c(names(reps), rep("data", nstart))
    t0 <- proc.time()[["elapsed"]]
    # a study records what the fit's warnings say (code, at_bound) in its
    # rows, so they are not repeated for every fit
    fit <- tryCatch(
      withCallingHandlers(
        moe_fit(x, y, setup$k, gating = g, expert = e, degree = tr$data$degree,
                start = if (length(start)) unname(start) else NULL, nstart = nstart,
                control = setup$control, lower = box$lower, upper = box$upper),
        sigmoe_fit_warning = function(w) invokeRestart("muffleWarning")),
      error = function(err) err)
    secs <- proc.time()[["elapsed"]] - t0
    failed <- inherits(fit, "error")
    won <- if (failed) list(start = if (length(unique(kinds)) == 1L) kinds[1L] else NA_character_,
                            gap = NA_real_)
           else start_winner(fit$starts$sse, kinds)
    row <- list(expert = e, gating = g, n = n, rep = task$rep, task = task$id,
                misspecified = is.null(tg), init = init,
                surplus = if (length(reps) && !identical(names(reps), "truth"))
                  paste(names(reps), collapse = "+") else NA_character_,
                start = won$start)
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
    row$sse_gap <- won$gap
    row$code <- if (failed) NA_integer_ else as.integer(fit$convergence$code)
    row$converged <- if (failed) FALSE else isTRUE(fit$convergence$converged)
    row$iterations <- if (failed) NA_integer_ else as.integer(fit$convergence$iterations)
    row$at_bound <- if (failed) NA_integer_ else sum(fit$at_bound)
    row$seconds <- secs
    row$error <- if (failed) conditionMessage(fit) else NA_character_
    row$seed <- seed_text
    cols[[g]] <- row
    if (keep) fits[[g]] <- list(fit = fit, start = if (length(start) > 1L) start
                                                  else if (length(start)) start[[1L]])
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

# The noise-free starts a fit of gate g builds from the truth; studies stored
# before representations were recorded split surplus atoms.
study_task_starts <- function(setup, expert, g) {
  if (!is.null(setup$starts)) return(setup$starts[[expert]][[g]])
  if (is.null(setup$surplus)) setup$surplus <- stats::setNames(rep("split", length(setup$gating)),
                                                               setup$gating)
  study_gate_starts(setup, expert, g)
}

# The box of gate g in the forms of moe_fit(); none for studies stored
# before studies had a box.
study_fit_box <- function(setup, g) {
  b <- setup$bounds$gates[[g]]
  if (is.null(b)) list(lower = -Inf, upper = Inf) else b
}

# Which kind of start the fit kept (moe_fit() keeps the first lowest finite
# SSE), and its relative lead over the best start of any other kind: how
# clearly the data chose it.
start_winner <- function(sse, kinds) {
  ok <- which(is.finite(sse))
  best <- ok[which.min(sse[ok])]
  other <- ok[kinds[ok] != kinds[best]]
  gap <- if (!length(other)) NA_real_
         else if (sse[best] > 0) (min(sse[other]) - sse[best]) / sse[best]
         else if (min(sse[other]) > 0) Inf else 0
  list(start = kinds[best], gap = gap)
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

# ---- inputs and losses ------------------------------------------------------

default_x_law <- function(n, d) matrix(stats::runif(n * d, -1, 1), n, d)

draw_inputs <- function(law, n, d, arg) {
  x <- law(n, d)
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x)) && d == 1L && is.numeric(x)) x <- matrix(x, ncol = 1L)
  if (!is.matrix(x) || !is.numeric(x) || nrow(x) != n || ncol(x) != d)
    stop(sprintf("`%s` must return an n x d numeric matrix (n = %d, d = %d), not %s.", arg, n, d,
                 describe_value(x)), call. = FALSE)
  storage.mode(x) <- "double"
  if (!all_finite(x)) stop(sprintf("`%s` returned non-finite inputs.", arg), call. = FALSE)
  colnames(x) <- paste0("x", seq_len(d))
  x
}

check_study_losses <- function(losses) {
  expected <- sprintf("a character vector of %s, or a list of these names and named functions",
                      paste0("\"", study_builtin_losses, "\"", collapse = ", "))
  if (is.character(losses)) losses <- as.list(losses)
  if (!is.list(losses) || length(losses) < 1L) abort_arg("losses", expected, losses)
  nm <- names(losses)
  if (is.null(nm)) nm <- rep("", length(losses))
  builtin <- character(0)
  custom <- list()
  reserved <- c("expert", "gating", "n", "rep", "task", "misspecified", "init", "surplus", "start",
                "sse", "sse_gap", "code", "converged", "iterations", "at_bound", "seconds", "error",
                "seed", study_builtin_losses)
  for (i in seq_along(losses)) {
    l <- losses[[i]]
    if (is.character(l) && length(l) == 1L && !is.na(l)) {
      if (!l %in% study_builtin_losses)
        stop(sprintf("`losses` must name built-in losses among %s, not \"%s\".",
                     paste0("\"", study_builtin_losses, "\"", collapse = ", "), l), call. = FALSE)
      builtin <- c(builtin, l)
    } else if (is.function(l)) {
      if (!nzchar(nm[i]) || !grepl("^[A-Za-z][A-Za-z0-9_.]*$", nm[i]))
        stop(sprintf("`losses[[%d]]` is a function and must have a syntactic name.", i), call. = FALSE)
      if (nm[i] %in% reserved || startsWith(nm[i], "expert_error"))
        stop(sprintf("`losses` has a function named \"%s\", the name of a column of the study.", nm[i]),
             call. = FALSE)
      custom[[nm[i]]] <- l
    } else {
      abort_arg("losses", expected, losses)
    }
  }
  if (anyDuplicated(c(builtin, names(custom))))
    stop("`losses` must not name a loss twice.", call. = FALSE)
  list(builtin = builtin, custom = custom)
}
