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
# SIGMOE_LIB=/path/to/lib puts a private library first (and passes it to the workers).

args <- commandArgs(trailingOnly = TRUE)
reduced <- "--reduced" %in% args
workers_arg <- sub("^--workers=", "", grep("^--workers=", args, value = TRUE))
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
# worker processes must find the same installation of sigmoe
Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))

suppressPackageStartupMessages({
  library(sigmoe)
  library(future)
})

out_file <- file.path("bench", if (reduced) "study-reduced.out" else "study.out")
dir.create(dirname(out_file), showWarnings = FALSE)
sink(out_file, split = TRUE)

cores <- parallelly::availableCores()
workers <- if (length(workers_arg)) as.integer(workers_arg) else cores
reps <- if (reduced) 4L else 40L
n <- round(10^seq(3, 5, length.out = 20))

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
cat(sprintf("           %d sample sizes in [%g, %g], %d replicates, %d tasks, %d fits, %d workers\n\n",
            length(n), min(n), max(n), reps, 2L * length(n) * reps, 4L * length(n) * reps, workers))

# A two-expert softmax truth: the same regression function as the sigmoid
# truth with gates sigma(z) and sigma(-z), with non-zero gating slopes.
truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "softmax", expert = "relu")

plan(multisession, workers = workers)
invisible(future.apply::future_lapply(seq_len(workers), function(i) Sys.getpid()))  # start the workers

timing <- system.time(
  st <- convergence_study(truth, n = n, reps = reps, k = 3, gating = c("sigmoid", "softmax"),
                          expert = c("relu", "linear"), sd = 0.1, seed = 20240513,
                          init = "near_truth", progress = FALSE)
)
plan(sequential)

d <- as.data.frame(st)
fits <- nrow(d)
sum_n_tasks <- sum(d$n[d$gating == "sigmoid"])
cat(sprintf("elapsed:   %.1f s (user %.1f s, system %.1f s in the main process)\n",
            timing[["elapsed"]], timing[["user.self"]], timing[["sys.self"]]))
cat(sprintf("fits/s:    %.1f  (%d fits)\n", fits / timing[["elapsed"]], fits))
cat(sprintf("sum of n:  %.4g over the %d tasks (%.4g rows fitted, 2 gates per task)\n",
            sum_n_tasks, fits / 2L, 2 * sum_n_tasks))
cat(sprintf("           %.3f s of wall time per million rows fitted; %.3f s per 1e5-row fit (mean fit time)\n",
            timing[["elapsed"]] / (2 * sum_n_tasks / 1e6),
            mean(d$seconds[d$n == max(d$n)])))
cat(sprintf("fit time:  %.1f s summed over fits (%.2f x elapsed: parallel efficiency over %d workers)\n",
            sum(d$seconds), sum(d$seconds) / timing[["elapsed"]], workers))
if (reduced) {
  projected <- timing[["elapsed"]] * 40 / reps
  cat(sprintf("target:    <= 180 s for the full setting; projected full time %.0f s (x%g): %s\n",
              projected, 40 / reps, if (projected <= 180) "on track" else "NOT on track"))
} else {
  cat(sprintf("target:    <= 180 s: %s\n", if (timing[["elapsed"]] <= 180) "MET" else "NOT MET"))
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
