# The flat-valley rule, geodesic acceleration, variable projection and the
# trust region (moe_control(valley_tol =, accel =, varpro =, trust =)) on the
# paper's Figure 1 study: do the losses and their slopes change, and how much
# time do they save? Run from the package root:
#
#   Rscript bench/valley.R            # writes bench/valley.out
#   Rscript bench/valley.R --reduced  # 10 replicates; bench/valley-reduced.out
#   options: --solvers=base,valley,accel,both,nobox,nobox_valley,varpro,
#            varpro_valley,trust (which of them; base is always run; default the
#            first four), --rounds=R (default 1), --out=FILE (default as above),
#            --design=zero_slope (the paper's other design, paper_truth();
#            default same_data)
#
# SIGMOE_LIB=/path/to/lib puts a private library first (and passes it to the
# workers).
#
# Settings, fixed before the run: the "same_data" design of Figure 1 (sigmoid
# and softmax gates fitted to the same data; ReLU and linear experts; k = 3
# for k* = 2; n = paper_sizes(20), 1e3 to 1e5; 40 replicates; seed
# 20240513; near-truth starts; the box "auto"), on 2 multisession workers.
# Solvers, the same data sets and starts for all:
#   base     moe_control() (maxit = 200, no rule, no acceleration)
#   valley   valley_tol = 0.01, valley_m = 10: stop once the last 10
#            iterations gained at most 0.01 noise variances
#   accel    accel = TRUE
#   both     accel = TRUE, valley_tol = 0.01, valley_m = 10
#   nobox    base without the box (bounds = NULL): what the box does to the
#            fits that run off, separately from the rule
#   nobox_valley  the valley rule without the box
#   varpro   varpro = TRUE: variable projection for the linear experts (the
#            ReLU fits are those of base)
#   varpro_valley  varpro = TRUE, valley_tol = 0.01, valley_m = 10
#   trust    trust = TRUE: Moré's trust-region steps, in the same box
# They run one after the other, in a rotating order when there is more than
# one round (the results of a round are the same; only the timings differ).
# Reported: for every gate x expert x loss, the slope of log(mean loss) on
# log(n) with its 95% bootstrap CI (rate_table(), B = 1000) for each solver
# and whether it lies in base's CI; the same for the medians; per fit, paired
# with base: the relative SSE change and how many losses moved by more than
# 10%; fits at maxit; the sum of the fits' own seconds and the study's
# elapsed time.
args <- commandArgs(trailingOnly = TRUE)
reduced <- "--reduced" %in% args
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
suppressPackageStartupMessages(library(sigmoe))
reps <- if (reduced) 10L else 40L
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
design <- match.arg(flag("design", "same_data"), c("same_data", "zero_slope"))
out_file <- flag("out", if (reduced) "bench/valley-reduced.out" else "bench/valley.out")
chosen <- union("base", strsplit(flag("solvers", "base,valley,accel,both"), ",")[[1]])
rounds <- as.integer(flag("rounds", "1"))
future::plan(future::multisession, workers = 2)

solvers <- list(
  base = moe_control(),
  valley = moe_control(valley_tol = 0.01, valley_m = 10L),
  accel = moe_control(accel = TRUE),
  both = moe_control(accel = TRUE, valley_tol = 0.01, valley_m = 10L),
  nobox = moe_control(),
  nobox_valley = moe_control(valley_tol = 0.01, valley_m = 10L),
  varpro = moe_control(varpro = TRUE),
  varpro_valley = moe_control(varpro = TRUE, valley_tol = 0.01, valley_m = 10L),
  trust = moe_control(trust = TRUE)
)[chosen]
no_box <- c("nobox", "nobox_valley")
run <- function(ctl, bounds = "auto") {
  convergence_study(paper_truth(design, "relu"), n = paper_sizes(20), reps = reps, k = 3L,
                    gating = c("sigmoid", "softmax"), expert = c("relu", "linear"), sd = 0.1,
                    seed = 20240513L, init = "near_truth", split = 1L, init_sd = 0.05,
                    bounds = bounds, control = ctl, progress = FALSE,
                    losses = list("voronoi", "expert_error", "l2",
                                  cell_error = function(fit, truth, x)
                                    max(cell_error(fit, truth, x))))
}

lines <- character(0)
say <- function(...) {
  s <- sprintf(...)
  cat(s, "\n", sep = "")
  lines <<- c(lines, s)
}
say("bench/valley.R  %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z"))
cpu <- sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
say("machine: %s, %d cores; %s; load average at start %s", cpu, parallel::detectCores(),
    R.version.string, paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " "))
say("design: %s, relu + linear, n = paper_sizes(20), %d replicates, 2 workers", design, reps)

studies <- list()
elapsed <- matrix(NA_real_, rounds, length(solvers), dimnames = list(NULL, names(solvers)))
for (r in seq_len(rounds)) {
  ord <- names(solvers)[(seq_along(solvers) + r - 2L) %% length(solvers) + 1L]
  for (nm in ord) {
    st <- run(solvers[[nm]], if (nm %in% no_box) NULL else "auto")
    elapsed[r, nm] <- st$elapsed
    say("round %d  %-7s %6.1f s elapsed, %7.1f s in fits", r, nm, st$elapsed,
        sum(st$results$seconds, na.rm = TRUE))
    if (r == 1L) studies[[nm]] <- st
  }
}
say("")
say("elapsed (s), median over rounds: %s",
    paste(sprintf("%s %.1f", names(solvers), apply(elapsed, 2, stats::median)), collapse = ", "))
if (length(solvers) > 1L)
  say("time ratio to base per round: %s", paste(vapply(names(solvers)[-1], function(nm)
  sprintf("%s %s", nm, paste(sprintf("%.2f", elapsed[, nm] / elapsed[, "base"]), collapse = "/")),
  ""), collapse = "; "))

key <- c("gating", "expert", "n", "rep")
base <- studies$base$results
losses <- c("voronoi", "expert_error", "l2", "cell_error")
for (nm in names(solvers)) {
  res <- studies[[nm]]$results
  m <- merge(base[, c(key, "sse", losses)], res[, c(key, "sse", losses, "iterations", "code", "at_bound", "seconds")],
             by = key, suffixes = c(".base", ""))
  rel <- (m$sse - m$sse.base) / m$sse.base
  moved <- vapply(losses, function(l) sum(abs(m[[l]] / m[[paste0(l, ".base")]] - 1) > 0.1,
                                          na.rm = TRUE), 0)
  say("%-7s fits %d: at maxit %d (%.1f%%, %.0f%% of the fit time), at a bound %d, valley stops %d; iterations mean %.1f, median %d;",
      nm, nrow(m), sum(m$code == -1L, na.rm = TRUE), 100 * mean(m$code == -1L, na.rm = TRUE),
      100 * sum(m$seconds[m$code %in% -1L]) / sum(m$seconds), sum(m$at_bound > 0, na.rm = TRUE),
      sum(m$code == 6L, na.rm = TRUE), mean(m$iterations), as.integer(stats::median(m$iterations)))
  say("        SSE vs base (relative): median %.2g, 1%% %.2g, 99%% %.2g, max %.2g; losses moved > 10%%: %s",
      stats::median(rel), stats::quantile(rel, 0.01), stats::quantile(rel, 0.99), max(rel),
      paste(sprintf("%s %d", losses, moved), collapse = ", "))
  if (nm == "base") next
  # per gate and expert: where the fits end against base's, in SSE (beyond
  # 1e-9 relative) and in the mean regression error l2
  for (ge in split(seq_len(nrow(m)), list(m$gating, m$expert), drop = TRUE)) {
    mm <- m[ge, ]
    rr <- rel[ge]
    say("          %-7s %-6s SSE lower than base in %3d, higher in %3d of %d (median %+.2g relative); mean l2 %.3g (base %.3g)",
        mm$gating[1], mm$expert[1], sum(rr < -1e-9), sum(rr > 1e-9), length(rr), stats::median(rr),
        mean(mm$l2), mean(mm$l2.base))
  }
}

for (stat in c("mean", "median")) {
  tabs <- lapply(studies, function(st) as.data.frame(rate_table(st, stat = stat)))
  say("")
  say("slopes of log(%s loss) on log(n), 95%% bootstrap CI; * = outside base's CI", stat)
  b <- tabs$base
  say("%-8s %-7s %-13s %-24s %s", "gating", "expert", "loss", "base", paste(sprintf("%-16s", names(solvers)[-1]), collapse = ""))
  outside <- 0L
  for (i in seq_len(nrow(b))) {
    cells <- vapply(names(solvers)[-1], function(nm) {
      s <- tabs[[nm]]$slope[i]
      out <- s < b$lower[i] || s > b$upper[i]
      if (out) outside <<- outside + 1L
      sprintf("%-16s", sprintf("%.3f%s", s, if (out) "*" else ""))
    }, "")
    say("%-8s %-7s %-13s %-24s %s", b$gating[i], b$expert[i], b$loss[i],
        sprintf("%.3f [%.3f, %.3f]", b$slope[i], b$lower[i], b$upper[i]), paste(cells, collapse = ""))
  }
  say("%d of %d slopes outside base's CI", outside, (length(solvers) - 1L) * nrow(b))
}
writeLines(lines, out_file)
future::plan(future::sequential)
