# Where the time of one study task goes at n = 1e3, old against new (issue 12).
#
# The task is that of the paper's Figure 1 study (bench/study.R): a two-expert
# softmax ReLU truth, k = 3, both gates fitted to the same data, near-truth
# starts, the default losses (Voronoi, expert errors, l2) on 10,000
# evaluation points, the default box; here at n = 1e3, ReLU and linear
# experts, 10 replicates each (20 tasks, 40 fits). A task is broken down into
#   C fit       time inside .Call(C_lsq_fit, ...) (lsq_search()),
#   R fit       the fit's own R time: the fit call (moe_fit() before, the
#               study's study_fit() now) minus its C time,
#   losses      the built-in losses (voronoi_compute(), expert_error_compute(),
#               regression_error() before; study_losses() now),
#   other       the rest of study_task_compute() (data, starts, rows).
# Times are CPU times of the child (user + system; everything runs on one
# thread), which the load of a shared machine disturbs far less than elapsed
# times; the elapsed task time is reported too. The fit and the losses are
# timed by knocking them out (the tasks rerun with the part replaced by its
# recorded results; the part costs the difference), the solver's C time by
# replaying its recorded calls alone. A second part measures the fixed R
# cost of one fit: a tiny problem (n = 50, one start, maxit = 2) fitted many
# times, minus the time of the same .Call(C_lsq_fit, ...) alone.
#
# Two versions of a package cannot share one R process, so each round runs a
# child process for each library, alternating which goes first; ratios are
# taken per round (the machine is shared and noisy) and medians reported.
#
#   SIGMOE_OLD_LIB=/tmp/lib_old SIGMOE_NEW_LIB=/tmp/lib_new Rscript bench/task.R [--rounds=5]
#
# Run from the repository root; writes bench/task.out.
args <- commandArgs(trailingOnly = TRUE)

if ("--child" %in% args) {
  source("bench/child.R")
  ns <- child_namespace(args)
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "relu")
  make_setup <- function(n, reps, control = moe_control())
    ns$study_setup(truth = truth, n = n, reps = reps, k = 3, gating = c("sigmoid", "softmax"),
                   expert = c("relu", "linear"), sd = 0.1, x_law = NULL, init = "near_truth",
                   losses = c("voronoi", "expert_error", "l2"), seed = 20240513, degree = NULL,
                   split = NULL, surplus = NULL, bounds = "auto", init_sd = 0.05, nstart = 10L,
                   control = control, eval_n = 10000L)
  setup <- make_setup(1000, 10)
  tasks <- setup$tasks
  run_all <- function() for (t in tasks) ns$study_task_compute(t, setup, setup$gating)
  lean <- exists("study_fit", envir = ns, inherits = FALSE)
  out <- c()

  # CPU time (user + system) of a function run `passes` times: the machine
  # is shared, and a process's CPU time depends much less on the load than
  # its elapsed time (every part here runs on one thread)
  cpu <- function(f, passes) {
    t <- system.time(for (p in seq_len(passes)) f())
    t[["user.self"]] + t[["sys.self"]]
  }
  passes <- 10L
  m <- passes * length(tasks)
  run_all()
  out["task_wall_ms"] <- 1000 * system.time(for (p in seq_len(passes)) run_all())[["elapsed"]] / m
  task_cpu <- cpu(run_all, passes)
  out["task_ms"] <- 1000 * task_cpu / m

  # the parts: during one pass over the tasks the arguments and results of
  # every call of the fit, the C solver and the losses are recorded. The fit
  # and the losses are then timed by knocking them out: the tasks run again
  # with the part replaced by a stub that returns the recorded results (same
  # numbers, same rows), and the part costs the difference, in place (with
  # the garbage collection and cache misses it causes). The solver's C time
  # is its recorded calls replayed alone.
  fit_fn <- if (lean) "study_fit" else "moe_fit"
  loss_fns <- if (lean) "study_losses" else c("voronoi_compute", "expert_error_compute", "regression_error")
  parts <- c("lsq_search", fit_fn, loss_fns)
  orig <- lapply(stats::setNames(parts, parts), get, envir = ns)
  calls <- new.env()
  results <- new.env()
  set_fn <- function(name, f) {
    unlockBinding(name, ns)
    assign(name, f, envir = ns)
    lockBinding(name, ns)
  }
  for (nm in parts) local({
    name <- nm
    f <- orig[[name]]
    calls[[name]] <- list()
    results[[name]] <- list()
    set_fn(name, function(...) {
      i <- length(calls[[name]]) + 1L
      calls[[name]][[i]] <- list(...)
      r <- f(...)
      results[[name]][i] <- list(r)
      r
    })
  })
  run_all()
  for (nm in parts) set_fn(nm, orig[[nm]])
  stub <- function(name) {
    res <- results[[name]]
    i <- 0L
    function(...) {
      i <<- i %% length(res) + 1L
      res[[i]]
    }
  }
  knocked_out <- function(names) {
    for (nm in names) set_fn(nm, stub(nm))
    on.exit(for (nm in names) set_fn(nm, orig[[nm]]))
    run_all()
    cpu(run_all, passes)
  }
  no_fit <- knocked_out(fit_fn)
  no_loss <- knocked_out(loss_fns)
  replay <- function(nm) {
    f <- orig[[nm]]
    cl <- calls[[nm]]
    function() for (a in cl) do.call(f, a)
  }
  f <- replay("lsq_search")
  f()
  c_fit <- cpu(f, passes)
  fit <- task_cpu - no_fit
  losses <- task_cpu - no_loss
  out["c_fit_ms"] <- 1000 * c_fit / m
  out["r_fit_ms"] <- 1000 * (fit - c_fit) / m
  out["losses_ms"] <- 1000 * losses / m
  out["other_ms"] <- 1000 * (task_cpu - fit - losses) / m
  out["c_fit_share"] <- c_fit / task_cpu
  out["fit_share"] <- fit / task_cpu
  out["fits_per_task"] <- length(calls[[fit_fn]]) / length(tasks)

  # the fixed R cost of one fit: a tiny problem, one start, maxit = 2
  small <- make_setup(100, 1, control = moe_control(maxit = 2))
  box <- small$bounds$gates$sigmoid
  start <- small$starts$relu$sigmoid
  set.seed(1)
  x <- matrix(stats::runif(50, -1, 1), ncol = 1, dimnames = list(NULL, "x1"))
  y <- moe_mean(truth, x) + stats::rnorm(50, 0, 0.1)
  # the same C call as the fit makes (the fit's coordinates are the data's here)
  tpl_theta <- unname(ns$params_theta(start[[1L]]))
  full_box <- ns$box_theta(box$lower, box$upper, start[[1L]])
  ctl <- ns$lsq_control_vector(small$control)
  spec <- ns$params_spec(start[[1L]])
  lo <- ns$solver_bound(full_box$lower)
  up <- ns$solver_bound(full_box$upper)
  reps <- 4000L
  time_us <- function(expr) {
    f <- eval(call("function", NULL, substitute(expr)), parent.frame())
    for (i in 1:50) f()
    1e6 * cpu(function() for (i in seq_len(reps)) f(), 1L) / reps
  }
  c_us <- time_us(.Call(ns$C_lsq_fit, spec, tpl_theta, x, y, ctl, lo, up, NULL))
  fit_us <- time_us(suppressWarnings(moe_fit(x, y, 3, gating = "sigmoid", expert = "relu",
                                             start = start[[1L]], nstart = 0L, control = small$control,
                                             lower = box$lower, upper = box$upper)))
  out["tiny_c_us"] <- c_us
  out["tiny_moe_fit_overhead_us"] <- fit_us - c_us
  if (lean) {
    plan <- small$plans$relu$gates$sigmoid
    lean_us <- time_us(ns$study_fit(plan, x, y, list(tpl_theta), 0L))
    out["tiny_study_fit_overhead_us"] <- lean_us - c_us
  }
  cat(paste(names(out), format(out, digits = 6), sep = "\t"), sep = "\n")
  quit(save = "no")
}

flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
libs <- c(old = Sys.getenv("SIGMOE_OLD_LIB"), new = Sys.getenv("SIGMOE_NEW_LIB"))
if (!all(nzchar(libs))) stop("set SIGMOE_OLD_LIB and SIGMOE_NEW_LIB to the two private libraries")
rounds <- as.integer(flag("rounds", "5"))
out_file <- flag("out", "bench/task.out")
script <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
run_child <- function(lib) {
  txt <- system2(file.path(R.home("bin"), "Rscript"), c(script, "--child", lib), stdout = TRUE)
  parts <- strsplit(txt, "\t")
  stats::setNames(as.numeric(vapply(parts, `[`, "", 2)), vapply(parts, `[`, "", 1))
}
res <- list(old = list(), new = list())
for (r in seq_len(rounds)) {
  order <- if (r %% 2) c("old", "new") else c("new", "old")
  for (s in order) res[[s]][[r]] <- run_child(libs[[s]])
  cat(sprintf("round %d done\n", r))
}
common <- intersect(names(res$old[[1]]), names(res$new[[1]]))
O <- do.call(rbind, lapply(res$old, function(v) v[common]))
N <- do.call(rbind, lapply(res$new, function(v) v[common]))
lean_only <- do.call(rbind, lapply(res$new, function(v) v[setdiff(names(v), common)]))

sink(out_file, split = TRUE)
options(width = 160)
cat("sigmoe: one study task at n = 1e3, old against new (bench/task.R), interleaved child processes\n")
cat("date:     ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
cat(sprintf("machine:   nproc %s | %s | R %s.%s | load %s\n", system("nproc", intern = TRUE),
            trimws(sub("^model name\\s*:", "", cpu[1])), R.version$major, R.version$minor,
            strsplit(readLines("/proc/loadavg"), " ")[[1]][1]))
cat("old:      ", libs[["old"]], "\nnew:      ", libs[["new"]], "\nrounds:   ", rounds, "\n")
cat("task:      paper design (bench/study.R) at n = 1e3: relu + linear, sigmoid + softmax fits, k = 3,\n",
    "          near-truth starts, losses on 10,000 points; 20 tasks x 10 passes per child\n\n")
cat("Per round (CPU ms per task; shares of the task's CPU time):\n")
per_round <- data.frame(round = seq_len(rounds),
                        old_task = O[, "task_ms"], new_task = N[, "task_ms"],
                        ratio_task = N[, "task_ms"] / O[, "task_ms"],
                        old_losses = O[, "losses_ms"], new_losses = N[, "losses_ms"],
                        ratio_losses = N[, "losses_ms"] / O[, "losses_ms"],
                        old_c_share = O[, "c_fit_share"], new_c_share = N[, "c_fit_share"],
                        new_fit_share = N[, "fit_share"])
print(format(per_round, digits = 3), row.names = FALSE)
cat("\nMedians over rounds:\n")
med <- function(M, col) stats::median(M[, col])
rows <- c(task_wall_ms = "task, elapsed (ms)", task_ms = "task, CPU (ms)",
          c_fit_ms = "  C fit (ms)", r_fit_ms = "  R fit overhead (ms)", losses_ms = "  losses (ms)",
          other_ms = "  other (ms)", c_fit_share = "C fit / task", fit_share = "fit (C + R) / task",
          tiny_c_us = "tiny fit: C call (us)", tiny_moe_fit_overhead_us = "tiny fit: moe_fit() R overhead (us)")
# the study's own fit, when both builds have it
if ("tiny_study_fit_overhead_us" %in% intersect(colnames(O), colnames(N)))
  rows <- c(rows, tiny_study_fit_overhead_us = "tiny fit: study_fit() R overhead (us)")
tab <- data.frame(part = unname(rows), old = vapply(names(rows), med, numeric(1), M = O),
                  new = vapply(names(rows), med, numeric(1), M = N),
                  median_ratio_new_over_old = vapply(names(rows), function(cl)
                    stats::median(N[, cl] / O[, cl]), numeric(1)))
print(format(tab, digits = 3), row.names = FALSE)
if (!is.null(lean_only) && ncol(lean_only))
  for (cl in colnames(lean_only))
    cat(sprintf("\nnew only: %s: median %.1f (rounds: %s)\n", cl, stats::median(lean_only[, cl]),
                paste(format(lean_only[, cl], digits = 3), collapse = ", ")))
sink()
