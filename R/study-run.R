# Running the tasks of a convergence study: one task draws one data set and
# fits every gate to it, each gate from its own sub-stream of the task's
# random stream, and records one row of losses per fit. Tasks travel in
# chunks, one future each, so that a future carries enough work to pay for
# its start (seconds on a batch scheduler); each worker writes every task it
# finishes to the cache itself (R/study-cache.R).

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
  if (!is.null(setup$cache)) cache_write(setup$cache, task, out)
  if (!is.null(progressor)) progressor()
  out
}

# The fits of one task and their rows. Fits go through study_fit() on the
# plans of the setup (R/study-fit.R), or through moe_fit() when the task keeps
# its fits (study_replay()) or the study has losses of its own, which take a
# moe_fit; both give the same numbers. The built-in losses of all the gates
# are computed in one call, after the fits.
study_task_compute <- function(task, setup, gatings, keep = FALSE) {
  prev <- blas_threads(1L)
  if (!is.na(prev) && prev != 1L) on.exit(blas_threads(prev), add = TRUE)
  e <- task$expert
  tr <- setup$truths[[e]]
  plans <- if (!is.null(setup$plans)) setup$plans[[e]] else study_expert_plan(setup, e)
  n <- task$n
  rng_set(task$seed)
  x <- draw_inputs(setup$x_law, n, setup$d, "x_law")
  y <- model_eval_theta(plans$truth_spec, plans$truth_theta, x) + stats::rnorm(n, 0, setup$sd)
  kt <- tr$data$k
  lean <- !keep && !length(setup$losses$custom)
  lb <- setup$losses$builtin
  cols <- list()
  fits <- list()
  loss_fits <- list()
  seed_text <- paste(task$seed, collapse = ",")
  for (g in gatings) {
    rng_set(gate_seed(task$seed, g))
    tg <- tr$fit[[g]]
    pl <- plans$gates[[g]]
    reps <- pl$starts
    thetas <- lapply(seq_along(reps), function(i) noisy_theta(reps[[i]], setup$init_sd, pl$start_boxes[[i]]))
    init <- if (length(reps)) setup$init else "multistart"
    nstart <- if (init == "near_truth") 0L else setup$nstart
    kinds <- c(names(reps), rep("data", nstart))
    if (!lean) {
      start <- study_task_starts(setup, e, g)
      if (setup$init_sd > 0)
        for (i in seq_along(start)) start[[i]] <- theta_params(thetas[[i]], start[[i]])
    }
    t0 <- proc.time()[["elapsed"]]
    fit <- if (lean) tryCatch(study_fit(pl, x, y, thetas, nstart), error = function(err) err)
    else {
      box <- study_fit_box(setup, g)
      # a study records what the fit's warnings say (code, at_bound) in its
      # rows, so they are not repeated for every fit
      tryCatch(
        withCallingHandlers(
          moe_fit(x, y, setup$k, gating = g, expert = e, degree = tr$data$degree,
                  start = if (length(start)) unname(start) else NULL, nstart = nstart,
                  control = setup$control, lower = box$lower, upper = box$upper),
          sigmoe_fit_warning = function(w) invokeRestart("muffleWarning")),
        error = function(err) err)
    }
    secs <- proc.time()[["elapsed"]] - t0
    failed <- inherits(fit, "error")
    res <- if (failed) NULL else if (lean) fit else study_fit_result(fit)
    won <- if (failed) list(start = if (length(unique(kinds)) == 1L) kinds[1L] else NA_character_,
                            gap = NA_real_)
           else start_winner(res$start_sse, kinds)
    row <- list(expert = e, gating = g, n = n, rep = task$rep, task = task$id,
                misspecified = is.null(tg), init = init,
                surplus = if (length(reps) && !identical(names(reps), "truth"))
                  paste(names(reps), collapse = "+") else NA_character_,
                start = won$start)
    # the built-in losses are filled in after the fits (study_losses())
    if ("voronoi" %in% lb) row$voronoi <- NA_real_
    if ("expert_error" %in% lb) {
      row$expert_error <- NA_real_
      for (j in seq_len(kt)) row[[paste0("expert_error", j)]] <- NA_real_
    }
    if ("l2" %in% lb) row$l2 <- NA_real_
    loss_fits[g] <- list(if (!failed) list(pl$spec, unname(res$theta)))
    # a custom loss that fails is a result of its fit (NA and a message in
    # `loss_error`), not the end of the study
    loss_errors <- character(0)
    for (nm in names(setup$losses$custom)) {
      v <- if (failed) NA_real_
           else tryCatch(setup$losses$custom[[nm]](fit, if (is.null(tg)) tr$data else tg, setup$x_eval),
                         error = function(err) err)
      if (inherits(v, "error")) {
        loss_errors <- c(loss_errors, sprintf("%s: %s", nm, conditionMessage(v)))
        v <- NA_real_
      } else if (!is.numeric(v) || length(v) != 1L) {
        loss_errors <- c(loss_errors, sprintf("%s: must return one number, not %s", nm,
                                              describe_value(v)))
        v <- NA_real_
      }
      row[[nm]] <- as.numeric(v)
    }
    row$sse <- if (failed) NA_real_ else res$sse
    row$sse_gap <- won$gap
    row$code <- if (failed) NA_integer_ else as.integer(res$code)
    row$converged <- if (failed) FALSE else isTRUE(res$converged)
    row$iterations <- if (failed) NA_integer_ else as.integer(res$iterations)
    row$at_bound <- if (failed) NA_integer_ else sum(res$at_bound)
    row$seconds <- secs
    row$error <- if (failed) conditionMessage(fit) else NA_character_
    if (length(setup$losses$custom))
      row$loss_error <- if (length(loss_errors)) paste(loss_errors, collapse = "; ") else NA_character_
    row$seed <- seed_text
    cols[[g]] <- row
    # a global search's starts stay a list named by representation, also
    # when one representation applies
    if (keep) fits[[g]] <- list(fit = fit, start = if (init == "global") start
                                                  else if (length(start)) start[[1L]])
  }
  if (length(lb)) {
    losses <- study_losses(unname(loss_fits[gatings]),
                           lapply(gatings, function(g) plans$gates[[g]]$loss),
                           setup$x_eval, setup$f_eval[[e]], lb)
    for (i in seq_along(gatings)) {
      v <- losses[[i]]
      if (is.null(v)) next
      g <- gatings[i]
      if ("voronoi" %in% lb) cols[[g]]$voronoi <- v[1L]
      if ("expert_error" %in% lb) {
        ee <- v[-(1:2)]
        cols[[g]]$expert_error <- max(ee)
        for (j in seq_len(kt)) cols[[g]][[paste0("expert_error", j)]] <- ee[j]
      }
      if ("l2" %in% lb) cols[[g]]$l2 <- v[2L]
    }
  }
  # a list of columns, one element per gate: cheap to store and to bind
  rows <- .mapply(function(...) unlist(list(...), use.names = FALSE), unname(cols), NULL)
  names(rows) <- names(cols[[1L]])
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

# The columns of a task's rows, in order (the cache checks them).
study_columns <- function(setup) {
  lb <- setup$losses$builtin
  custom <- names(setup$losses$custom)
  c("expert", "gating", "n", "rep", "task", "misspecified", "init", "surplus", "start",
    if ("voronoi" %in% lb) "voronoi",
    if ("expert_error" %in% lb) c("expert_error", paste0("expert_error", seq_len(setup$truth$k))),
    if ("l2" %in% lb) "l2", custom,
    "sse", "sse_gap", "code", "converged", "iterations", "at_bound", "seconds", "error",
    if (length(custom)) "loss_error", "seed")
}

# ---- chunks -------------------------------------------------------------------

# Rows fitted by a task: n times its local searches, one per start, summed
# over the gates (a near-truth fit is one search; a global search one per
# representation plus nstart; a multistart or misspecified fit nstart).
study_task_rows <- function(task, setup) {
  searches <- sum(vapply(setup$gating, function(g) {
    reps <- length(study_task_starts(setup, task$expert, g))
    init <- if (reps) setup$init else "multistart"
    reps + if (init == "near_truth") 0 else setup$nstart
  }, numeric(1)))
  as.numeric(task$n) * searches
}

# Rows per future when the plan starts a process (or a batch job) for each
# future: 20 to 45 s of one core for the paper's Figure 1 fits (k = 3, d = 1;
# 22 s in bench/study.out with sigmoe 0.1.1), against the 2.5-4 s a future
# costs on Slurm.
study_chunk_rows_default <- 2e7

# Whether the plan's workers outlive a future (sequential, multicore,
# multisession, cluster): then a future costs milliseconds and the tasks are
# dealt into two chunks per worker; otherwise (future.batchtools, future.callr,
# ...) a future starts a process, and chunks carry `chunk_rows` rows.
study_plan_persistent <- function() {
  !requireNamespace("future", quietly = TRUE) ||
    inherits(future::plan(), c("uniprocess", "multicore", "cluster"))
}

# Whether the plan's workers run on this machine (its cores bound them).
study_plan_local <- function() {
  !requireNamespace("future", quietly = TRUE) ||
    inherits(future::plan(), c("uniprocess", "multicore", "multisession"))
}

# Deal the tasks into chunks of about equal rows: the number of chunks from
# `chunk_rows` (or the plan, see above), then the largest task first into the
# lightest chunk. Chunks only group tasks: every task keeps its own random
# stream, so the chunking never changes a number.
study_chunks <- function(pending, setup, chunk_rows, workers, persistent) {
  m <- length(pending)
  rows <- vapply(pending, study_task_rows, numeric(1), setup = setup)
  total <- sum(rows)
  count <- if (!is.null(chunk_rows)) ceiling(total / chunk_rows)
           else if (persistent) 2 * workers
           else ceiling(total / study_chunk_rows_default)
  count <- as.integer(max(1, min(m, count)))
  ids <- vapply(pending, `[[`, integer(1), "id")
  load <- numeric(count)
  member <- integer(m)
  for (i in order(-rows, ids)) {
    j <- which.min(load)
    member[i] <- j
    load[j] <- load[j] + rows[i]
  }
  chunks <- unname(split(seq_len(m), factor(member, levels = seq_len(count))))
  attr(chunks, "rows") <- load
  chunks
}

# Run a chunk of tasks, one after the other; runs on the workers. Stops
# before the next task once the run that sent it has ended (its token gone):
# a worker of an interrupted study finishes the task in hand, writes it, and
# returns. A task that fails (an error outside the fits and the losses, which
# are results) is reported and the chunk goes on with the next one.
#
# A worker (a process other than the one that started the run) that is
# interrupted itself, as every process of a terminal's job is by Ctrl-C,
# returns what it has instead of unwinding: a PSOCK worker that unwinds sends
# no result, and its session would wait for it forever.
study_chunk_run <- function(tasks, setup, run, progressor = NULL) {
  saved <- rng_save()
  on.exit(rng_restore(saved), add = TRUE)
  if (!is.null(setup$cache) && !dir.exists(setup$cache$dir))
    stop(sprintf(paste0("`cache_dir` \"%s\" does not exist on the worker %s (process %d): it must be ",
                        "on a file system that every worker sees."),
                 setup$cache$dir, Sys.info()[["nodename"]], Sys.getpid()), call. = FALSE)
  state <- new.env(parent = emptyenv())
  state$done <- list()
  state$errors <- list()
  state$cancelled <- FALSE
  state$interrupted <- FALSE
  loop <- function() {
    for (task in tasks) {
      if (study_run_cancelled(run)) {
        state$cancelled <- TRUE
        break
      }
      out <- tryCatch(study_task_run(task, setup, progressor), error = function(e) e)
      if (inherits(out, "error")) state$errors[[as.character(task$id)]] <- conditionMessage(out)
      else state$done[[as.character(task$id)]] <- out
    }
  }
  if (identical(Sys.getpid(), run$pid)) loop()
  else tryCatch(loop(), interrupt = function(i) state$interrupted <- TRUE)
  ids <- vapply(tasks, `[[`, integer(1), "id")
  list(done = state$done, errors = state$errors,
       skipped = setdiff(ids, as.integer(c(names(state$done), names(state$errors)))),
       cancelled = state$cancelled, interrupted = state$interrupted)
}

# Run the pending tasks, in chunks, under the plan in force; returns the
# finished tasks named by id, or stops, saying what failed and what is kept.
run_study_tasks <- function(pending, setup, progress, chunks, run) {
  ship <- setup
  ship$tasks <- NULL  # the workers get their own tasks only
  go <- function(p) {
    if (!requireNamespace("future", quietly = TRUE))
      return(lapply(chunks, function(ix) study_chunk_run(pending[ix], ship, run, p)))
    study_futures(pending, ship, chunks, run, p)
  }
  res <- if (isFALSE(progress) || !requireNamespace("progressr", quietly = TRUE)) go(NULL)
         else {
           body <- function() go(progressr::progressor(steps = length(pending)))
           # progressr itself stays silent in non-interactive sessions unless enabled
           if (isTRUE(progress) || (is.null(progress) && interactive()))
             progressr::with_progress(body(), enable = TRUE)
           else body()
         }
  study_collect(res, pending, chunks, setup, run)
}

# One future per chunk, created in order and collected in order. When the
# call ends before every future is collected (an interrupt, an error) the
# jobs of batch-scheduler futures still queued or running are cancelled; the
# workers of other plans stop before their next task because the run's token
# is gone (study_run_cancelled()).
study_futures <- function(pending, setup, chunks, run, p) {
  fs <- vector("list", length(chunks))
  collected <- logical(length(chunks))
  on.exit(study_cancel_futures(fs[!collected]), add = TRUE)
  for (i in seq_along(chunks)) {
    fs[[i]] <- future::future(
      quote(run_chunk(tasks, setup, run, p)), substitute = FALSE,
      globals = list(run_chunk = study_chunk_run, tasks = pending[chunks[[i]]], setup = setup,
                     run = run, p = p),
      packages = "sigmoe", seed = FALSE,
      label = sprintf("sigmoe-study-%d-of-%d", i, length(chunks)))
  }
  values <- vector("list", length(chunks))
  for (i in seq_along(fs)) {
    values[i] <- list(tryCatch(future::value(fs[[i]]), error = function(e) e))
    collected[i] <- TRUE
    if (inherits(values[[i]], "error")) study_forget_future(fs[[i]])
  }
  values
}

# Cancel the batch jobs of futures that were not collected (other futures
# cannot be cancelled with future 1.x; their workers stop at the next task).
study_cancel_futures <- function(fs) {
  for (f in fs) if (inherits(f, "BatchtoolsFuture")) {
    # future.batchtools, which made f, has loaded batchtools
    reg <- f$config$reg
    if (!is.null(reg))
      try(suppressMessages(getExportedValue("batchtools", "killJobs")(reg = reg)), silent = TRUE)
    study_forget_future(f)
  }
  invisible(NULL)
}

# A failed or cancelled batchtools future keeps its registry (in
# ./.future by default) and prints its error again when garbage-collected;
# the study has reported it, so the registry goes.
study_forget_future <- function(f) {
  if (inherits(f, "BatchtoolsFuture")) {
    dir <- f$config$reg$file.dir
    if (is.character(dir) && length(dir) == 1L && dir.exists(dir)) unlink(dir, recursive = TRUE)
  }
  invisible(NULL)
}

# The finished tasks of all chunks, named by id; or an error that says which
# chunks and tasks failed and how many finished tasks the cache keeps.
study_collect <- function(res, pending, chunks, setup, run) {
  done <- list()
  problems <- character(0)
  skipped <- integer(0)
  for (i in seq_along(res)) {
    r <- res[[i]]
    if (inherits(r, "error")) {
      msg <- strsplit(conditionMessage(r), "\n", fixed = TRUE)[[1L]]
      msg <- msg[nzchar(trimws(msg))]
      cancel <- grep("CANCELLED|TIME LIMIT|killed|Killed", msg, value = TRUE)
      problems <- c(problems, sprintf("the future of chunk %d (%d tasks) failed: %s%s", i,
                                      length(chunks[[i]]), msg[1L],
                                      if (length(cancel)) paste0(" [", cancel[length(cancel)], "]")
                                      else ""))
      next
    }
    done <- c(done, r$done)
    for (id in names(r$errors)) {
      t <- pending[[match(as.integer(id), vapply(pending, `[[`, integer(1), "id"))]]
      problems <- c(problems, sprintf("task %s (%s experts, n = %d, rep %d) failed: %s", id,
                                      t$expert, t$n, t$rep, r$errors[[id]]))
    }
    if (isTRUE(r$interrupted))
      problems <- c(problems, sprintf("the worker of chunk %d was interrupted", i))
    else if (isTRUE(r$cancelled)) skipped <- c(skipped, r$skipped)
  }
  if (length(skipped))
    problems <- c(problems, sprintf(paste0(
      "workers skipped %d task%s: they could not find the run's token %s, although the run ",
      "was going on; %s"), length(skipped), if (length(skipped) > 1L) "s" else "", run$token,
      if (is.null(setup$cache)) "was the temporary directory of this session replaced?"
      else "`cache_dir` must be on a file system that every worker sees, with the same path"))
  if (!length(problems)) return(done)
  kept <- if (is.null(setup$cache)) "Give `cache_dir` to keep finished tasks across runs."
          else {
            on_disk <- length(list.files(setup$cache$dir, pattern = "^task-[0-9]+\\.rds$"))
            sprintf(paste0("`cache_dir` \"%s\" holds the %d tasks finished so far: run the same call ",
                           "again to compute the rest."), setup$cache$dir, on_disk)
          }
  stop(sprintf("The study did not finish: %s%s. %s", problems[1L],
               if (length(problems) > 1L) sprintf(" (and %d more problem%s)", length(problems) - 1L,
                                                  if (length(problems) > 2L) "s" else "") else "",
               kept), call. = FALSE)
}

# ---- inputs and losses ------------------------------------------------------

default_x_law <- function(n, d) matrix(stats::runif(n * d, -1, 1), n, d)

draw_inputs <- function(law, n, d, arg) {
  # the default law is known to give what is asked: its draws need no checks
  # (a study draws inputs for every task)
  x <- if (identical(law, default_x_law)) default_x_law(n, d) else user_inputs(law, n, d, arg)
  colnames(x) <- paste0("x", seq_len(d))
  x
}

# n x d inputs from a user's law, checked.
user_inputs <- function(law, n, d, arg) {
  # the law is the user's code: its errors say which argument they come from
  x <- tryCatch(law(n, d), error = function(e)
    stop(sprintf("`%s` failed when drawing %d inputs: %s", arg, n, conditionMessage(e)), call. = FALSE))
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x)) && d == 1L && is.numeric(x)) x <- matrix(x, ncol = 1L)
  if (!is.matrix(x) || !is.numeric(x) || nrow(x) != n || ncol(x) != d)
    stop(sprintf("`%s` must return an n x d numeric matrix (n = %d, d = %d), not %s.", arg, n, d,
                 describe_value(x)), call. = FALSE)
  storage.mode(x) <- "double"
  if (!all_finite(x)) stop(sprintf("`%s` returned non-finite inputs.", arg), call. = FALSE)
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
                "loss_error", "seed", study_builtin_losses)
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
