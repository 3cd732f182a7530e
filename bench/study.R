# Benchmark of a full convergence study (issue 3):
#   two expert types (ReLU and linear), both gates fitted to the same data,
#   k* = 2, k = 3, d = 1, 20 sample sizes log-spaced in [1e3, 1e5],
#   40 replicates each: 2 x 20 x 40 = 1,600 tasks, 3,200 fits.
# Target: at most 3 minutes on a 2-core machine.
#
# Run from the package root, with sigmoe installed:
#   Rscript bench/study.R                 # full setting, writes bench/study.out
#   Rscript bench/study.R --reduced       # 4 replicates, writes bench/study-reduced.out
#   Rscript bench/study.R --workers=1     # number of worker processes (default: all cores)
#   Rscript bench/study.R --runs=3        # the study run R times back to back (default 3 for
#                                         # the full setting, 1 for --reduced); the elapsed
#                                         # time reported is their median, the target is
#                                         # judged on it, and the runs must give identical results
#   Rscript bench/study.R --varpro        # the same study with moe_control(varpro = TRUE);
#                                         # writes bench/study-varpro.out
#   Rscript bench/study.R --slurm         # the same study on the local Slurm beside
#                                         # multisession; writes bench/study-slurm.out
#     --slurm options: --rounds=R (interleaved runs of each, default 2),
#       --chunk-rows=A,B,... (chunk_rows of the Slurm runs, "default" for the
#       package's choice; default: that alone), --reduced (4 replicates;
#       bench/study-slurm-reduced.out)
#     Needs `bash .ci/slurm.sh start` first (and future.batchtools).
# SIGMOE_LIB=/path/to/lib puts a private library first (and passes it to the workers).

args <- commandArgs(trailingOnly = TRUE)
reduced <- "--reduced" %in% args
workers_arg <- sub("^--workers=", "", grep("^--workers=", args, value = TRUE))
runs_arg <- sub("^--runs=", "", grep("^--runs=", args, value = TRUE))
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
# worker processes (and Slurm jobs, through the template) must find the same
# installation of sigmoe
Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))

# ---- --slurm: the same study through future.batchtools on the local Slurm ----
# Times the study under multisession (all cores) and under
# plan(batchtools_slurm, template = sigmoe's slurm.tmpl, ncpus = 1,
# scheduler.latency = 0.1), interleaved, checks that the results are
# identical, and reports the chunks (futures, i.e. Slurm jobs) of each.
if ("--slurm" %in% args) {
  rounds <- as.integer(sub("^--rounds=", "", grep("^--rounds=", args, value = TRUE)))
  if (!length(rounds)) rounds <- 2L
  cr_arg <- sub("^--chunk-rows=", "", grep("^--chunk-rows=", args, value = TRUE))
  chunk_rows <- if (length(cr_arg)) lapply(strsplit(cr_arg, ",")[[1]], function(v)
                  if (v == "default") NULL else as.numeric(v)) else list(NULL)
  suppressPackageStartupMessages({
    library(sigmoe)
    library(future)
    library(future.batchtools)
  })
  if (system("sinfo -h -o %T >/dev/null 2>&1") != 0)
    stop("no Slurm answering: run `bash .ci/slurm.sh start` first")
  if (!nzchar(Sys.getenv("USER"))) Sys.setenv(USER = system("id -un", intern = TRUE))
  options(future.cache.path = file.path(tempdir(), ".future"))
  out_file <- file.path("bench", if (reduced) "study-slurm-reduced.out" else "study-slurm.out")
  sink(out_file, split = TRUE)
  cores <- parallelly::availableCores()
  reps <- if (reduced) 4L else 40L
  n <- round(10^seq(3, 5, length.out = 20))
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "relu")
  tmpl <- system.file("templates", "slurm.tmpl", package = "sigmoe")
  cat("sigmoe convergence study on Slurm vs multisession (bench/study.R --slurm)\n")
  cat("date:     ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
  cat("machine:  ", Sys.info()[["nodename"]], "| available cores:", cores, "|",
      system("sinfo -h -o '%N %T %c cpus'", intern = TRUE)[1], "|",
      system("sinfo --version", intern = TRUE), "\n")
  cat("versions: ", "sigmoe", format(packageVersion("sigmoe")), "| future", format(packageVersion("future")),
      "| future.batchtools", format(packageVersion("future.batchtools")), "| batchtools",
      format(packageVersion("batchtools")), "\n")
  cat(sprintf(paste0("setting:   %s: relu + linear, sigmoid + softmax, k* = 2, k = 3, 20 sizes in ",
                     "[1e3, 1e5], %d replicates: %d tasks, %d fits (defaults: bounds = \"auto\", ",
                     "default surplus)\n"), if (reduced) "REDUCED" else "FULL (paper scale)", reps,
              2L * 20L * reps, 4L * 20L * reps))
  cat("template: ", tmpl, "; resources walltime = 3600 s, memory = 1024 MB, ncpus = 1;",
      "scheduler.latency = 0.1\n\n")
  run <- function(...) {
    t <- system.time(st <- convergence_study(
      truth, n = n, reps = reps, k = 3, gating = c("sigmoid", "softmax"), expert = c("relu", "linear"),
      sd = 0.1, seed = 20240513, init = "near_truth", progress = FALSE, ...))[["elapsed"]]
    list(st = st, t = t)
  }
  no_time <- function(st) { d <- as.data.frame(st); d[setdiff(names(d), "seconds")] }
  times <- data.frame()
  ref <- NULL
  for (r in seq_len(rounds)) {
    plan(multisession, workers = cores)
    invisible(value(lapply(seq_len(cores), function(i) future(Sys.getpid()))))  # start the workers
    m <- run()
    plan(sequential)
    if (is.null(ref)) ref <- no_time(m$st)
    stopifnot(identical(no_time(m$st), ref))
    load <- strsplit(readLines("/proc/loadavg"), " ")[[1]][1]
    cat(sprintf("round %d  multisession (%d workers): %6.1f s, %d chunks  [load %s]\n", r, cores, m$t,
                m$st$chunks, load))
    times <- rbind(times, data.frame(round = r, plan = "multisession", chunk_rows = NA, chunks = m$st$chunks,
                                     seconds = m$t))
    for (cr in chunk_rows) {
      suppressWarnings(plan(batchtools_slurm, template = tmpl, scheduler.latency = 0.1,
                            resources = list(walltime = 3600, memory = 1024, ncpus = 1)))
      s <- if (is.null(cr)) run() else run(chunk_rows = cr)
      plan(sequential)
      same <- identical(no_time(s$st), ref)
      load <- strsplit(readLines("/proc/loadavg"), " ")[[1]][1]
      cat(sprintf("round %d  slurm, chunk_rows = %-7s: %6.1f s, %d chunks (jobs), %.3g rows each; identical: %s  [load %s]\n",
                  r, if (is.null(cr)) "default" else format(cr), s$t, s$st$chunks,
                  sum(2 * as.numeric(ref$n[ref$gating == "sigmoid"])) / s$st$chunks, same, load))
      stopifnot(same)
      times <- rbind(times, data.frame(round = r, plan = "slurm",
                                       chunk_rows = if (is.null(cr)) NA else cr,
                                       chunks = s$st$chunks, seconds = s$t))
    }
  }
  cat("\nratio to the multisession run of the same round:\n")
  ms <- times[times$plan == "multisession", c("round", "seconds")]
  sl <- merge(times[times$plan == "slurm", ], ms, by = "round", suffixes = c("", ".ms"))
  sl$ratio <- sl$seconds / sl$seconds.ms
  print(format(sl[order(sl$chunks, sl$round), c("round", "chunks", "seconds", "seconds.ms", "ratio")],
               digits = 3), row.names = FALSE)
  cat("\nmedian seconds and ratio to multisession:\n")
  agg <- aggregate(seconds ~ plan + chunks, data = times, FUN = median)
  agg$ratio <- agg$seconds / agg$seconds[agg$plan == "multisession"][1]
  print(format(agg, digits = 3), row.names = FALSE)
  cat(sprintf("\ntarget: slurm <= 1.5 x multisession on %d cores: %s\n", cores,
              if (all(agg$ratio[agg$plan == "slurm"] <= 1.5)) "MET" else "NOT MET for some chunk sizes"))
  sink()
  quit(save = "no")
}

suppressPackageStartupMessages({
  library(sigmoe)
  library(future)
})

varpro <- "--varpro" %in% args
out_file <- file.path("bench", paste0(if (reduced) "study-reduced" else "study", if (varpro) "-varpro", ".out"))
dir.create(dirname(out_file), showWarnings = FALSE)
sink(out_file, split = TRUE)

cores <- parallelly::availableCores()
workers <- if (length(workers_arg)) as.integer(workers_arg) else cores
reps <- if (reduced) 4L else 40L
n <- round(10^seq(3, 5, length.out = 20))
runs <- if (length(runs_arg)) as.integer(runs_arg) else if (reduced) 1L else 3L
stopifnot(!is.na(runs), runs >= 1L)

cpu <- tryCatch({
  l <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
  sprintf("%s (x%d)", trimws(sub("^model name\\s*:", "", l[1])), length(l))
}, error = function(e) "unknown")
si <- sessionInfo()
cat("sigmoe convergence-study benchmark (bench/study.R)\n")
cat("date:     ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cat("machine:  ", Sys.info()[["nodename"]], "|", Sys.info()[["sysname"]], Sys.info()[["release"]],
    "|", cpu, "| available cores:", cores, "\n")
cat("R:        ", R.version.string, "| BLAS:", si$BLAS, "\n")
cat("sigmoe:   ", as.character(packageVersion("sigmoe")), "| future", as.character(packageVersion("future")),
    "| future.apply", as.character(packageVersion("future.apply")), "\n")
cat("load avg: ", tryCatch(readLines("/proc/loadavg"), error = function(e) "unknown"), "\n")
cat(sprintf("setting:   %s: experts relu + linear, gates sigmoid + softmax, k* = 2, k = 3, d = 1,\n",
            if (reduced) "REDUCED" else "FULL"))
cat(sprintf("           %d sample sizes in [%g, %g], %d replicates, %d tasks, %d fits, %d workers\n",
            length(n), min(n), max(n), reps, 2L * length(n) * reps, 4L * length(n) * reps, workers))
cat(sprintf("solver:    %s\n\n", if (varpro) "moe_control(varpro = TRUE): variable projection for the linear experts"
                                 else "moe_control() (the default)"))

# A two-expert softmax truth: the same regression function as the sigmoid
# truth with gates sigma(z) and sigma(-z), with non-zero gating slopes.
truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "softmax", expert = "relu")

plan(multisession, workers = workers)
invisible(future.apply::future_lapply(seq_len(workers), function(i) Sys.getpid()))  # start the workers

# the machine is shared: the study runs `runs` times back to back, and the
# time is their median; every run must give the same results
results <- function(st) { d <- as.data.frame(st); d$seconds <- NULL; d }
elapsed <- numeric(runs)
for (r in seq_len(runs)) {
  t_r <- system.time(
    st_r <- convergence_study(truth, n = n, reps = reps, k = 3, gating = c("sigmoid", "softmax"),
                              expert = c("relu", "linear"), sd = 0.1, seed = 20240513,
                              init = "near_truth", progress = FALSE,
                              control = moe_control(varpro = varpro))
  )
  elapsed[r] <- t_r[["elapsed"]]
  if (r == 1L) {
    st <- st_r
    timing <- t_r
  } else if (!identical(results(st_r), results(st))) {
    stop("run ", r, " of the study gave other results than run 1")
  }
}
plan(sequential)
# the report below is of run 1, with the median elapsed time of all runs
timing[["elapsed"]] <- stats::median(elapsed)

d <- as.data.frame(st)
fits <- nrow(d)
sum_n_tasks <- sum(d$n[d$gating == "sigmoid"])
cat(sprintf("elapsed:   %.1f s, the median of %d run%s (%s s); results identical across runs%s\n",
            timing[["elapsed"]], runs, if (runs > 1L) "s" else "", paste(sprintf("%.1f", elapsed), collapse = ", "),
            if (runs > 1L) "" else " (one run)"))
cat(sprintf("           run 1: user %.1f s, system %.1f s in the main process\n",
            timing[["user.self"]], timing[["sys.self"]]))
cat(sprintf("fits/s:    %.1f  (%d fits)\n", fits / timing[["elapsed"]], fits))
cat(sprintf("sum of n:  %.4g over the %d tasks (%.4g rows fitted, 2 gates per task)\n",
            sum_n_tasks, fits / 2L, 2 * sum_n_tasks))
cat(sprintf("           %.3f s of wall time per million rows fitted; %.3f s per 1e5-row fit (mean fit time)\n",
            timing[["elapsed"]] / (2 * sum_n_tasks / 1e6),
            mean(d$seconds[d$n == max(d$n)])))
cat(sprintf("fit time:  %.1f s summed over fits in run 1 (%.2f x its elapsed: parallel efficiency over %d workers)\n",
            sum(d$seconds), sum(d$seconds) / elapsed[1L], workers))
if (reduced) {
  projected <- timing[["elapsed"]] * 40 / reps
  cat(sprintf("target:    <= 180 s for the full setting; projected full time %.0f s (x%g): %s\n",
              projected, 40 / reps, if (projected <= 180) "on track" else "NOT on track"))
} else {
  cat(sprintf("target:    <= 180 s: %s; <= 45 s (the later target, near-truth starts): %s\n",
              if (timing[["elapsed"]] <= 180) "MET" else "NOT MET",
              if (timing[["elapsed"]] <= 45) "MET" else "NOT MET"))
}
capped <- !is.na(d$code) & d$code == -1L
cat(sprintf("iteration limit: %d fits (%.0f%%) stopped at maxit, %.0f%% of the summed fit time\n\n",
            sum(capped), 100 * mean(capped), 100 * sum(d$seconds[capped]) / sum(d$seconds)))

cat("Mean fit seconds and iterations by n (every 4th size), gate and expert:\n")
agg <- aggregate(cbind(seconds, iterations) ~ gating + expert + n, data = d, FUN = mean)
agg <- agg[agg$n %in% n[c(seq(1, 20, by = 4), 20)], ]
agg <- agg[order(agg$expert, agg$gating, agg$n), ]
print(format(agg, digits = 3), row.names = FALSE)
tl <- lm(seconds ~ n, data = d)
cat(sprintf("\nlinear fit of seconds per fit on n: %.4f s + %.3f s per 1e5 rows\n",
            coef(tl)[[1]], 1e5 * coef(tl)[[2]]))
cat(sprintf("convergence: %d of %d fits converged; codes: %s\n\n", sum(d$converged), fits,
            paste(names(table(d$code)), table(d$code), sep = ":", collapse = " ")))

print(rate_table(st, B = 1000))
cat("\nSample size for mean Voronoi loss 0.05 / expert error 0.05 (from the fitted lines):\n")
print(rbind(sample_size(st, eps = 0.05, loss = "voronoi"),
            sample_size(st, eps = 0.05, loss = "expert_error")), row.names = FALSE, digits = 3)

pdf(sub("\\.out$", ".pdf", out_file), width = 10, height = 4.5)
plot(st, loss = "voronoi")
plot(st, loss = "expert_error")
plot(st, loss = "l2")
invisible(dev.off())
sink()
