# Interleaved A/B timing of two installs of sigmoe (two package versions cannot
# share one R process): each round runs a fresh child process for A, then one
# for B (the order alternates between rounds), and every child times the same
# local fits. Ratios are taken per round, so that load on the shared machine
# hits both sides alike; the medians over rounds are reported.
#
#   Rscript bench/ab.R LIB_A LIB_B [--rounds=7] [--out=bench/ab.out]
#
# The fits: sigmoid gate, ReLU experts, d = 1, k* = 2, k = 3, one local search
# from the start of bench/fit.R (maxit = 200), at n = 1e3, 1e4, 1e5, with 1 and
# 2 OpenMP threads; the study task: one near-truth task of the Figure 1 study.
args <- commandArgs(trailingOnly = TRUE)
child <- "--child" %in% args
if (child) {
  lib <- args[2]
  .libPaths(c(lib, .libPaths()))
  suppressPackageStartupMessages(library(sigmoe))
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                      gating = "sigmoid", expert = "relu")
  start <- moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5), a = c(0.8, 1.3, -0.8),
                      b = c(0.1, 0.3, 0.3), gating = "sigmoid", expert = "relu")
  out <- c()
  for (n in c(1e3, 1e4, 1e5)) {
    set.seed(1)
    d <- moe_simulate(truth, n = n, sd = 0.05)
    x <- matrix(d$x1, ncol = 1)
    for (th in 1:2) {
      ctl <- moe_control(threads = th)
      f <- function() moe_fit(x, d$y, k = 3, start = start, nstart = 0, control = ctl)
      f()
      reps <- max(1L, round(2e5 / n))
      t <- system.time(for (i in seq_len(reps)) f())[["elapsed"]] / reps
      out[sprintf("fit n=%g threads=%d", n, th)] <- t
    }
  }
  tr <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                   gating = "softmax", expert = "relu")
  t <- system.time(convergence_study(tr, n = c(1000, 2000), reps = 5, k = 3,
                                     expert = c("relu", "linear"), sd = 0.1, seed = 1,
                                     progress = FALSE))[["elapsed"]]
  out["study 20 tasks"] <- t
  cat(paste(names(out), format(out, digits = 6), sep = "\t"), sep = "\n")
  quit(save = "no")
}
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
libs <- args[!startsWith(args, "--")][1:2]
rounds <- as.integer(flag("rounds", "7"))
out_file <- flag("out", "bench/ab.out")
script <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
run_child <- function(lib) {
  txt <- system2(file.path(R.home("bin"), "Rscript"), c(script, "--child", lib), stdout = TRUE)
  parts <- strsplit(txt, "\t")
  stats::setNames(as.numeric(vapply(parts, `[`, "", 2)), vapply(parts, `[`, "", 1))
}
res <- list(A = list(), B = list())
for (r in seq_len(rounds)) {
  order <- if (r %% 2) c("A", "B") else c("B", "A")
  for (s in order) res[[s]][[r]] <- run_child(libs[if (s == "A") 1 else 2])
}
A <- do.call(rbind, res$A)
B <- do.call(rbind, res$B)
ratio <- B / A
sink(out_file, split = TRUE)
options(width = 150)
cat("sigmoe A/B timing (bench/ab.R), interleaved child processes\n")
cat("date:    ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
cat(sprintf("machine:  %s x%d | R %s.%s\n", trimws(sub("^model name\\s*:", "", cpu[1])),
            length(cpu), R.version$major, R.version$minor))
cat("A:       ", libs[1], "\nB:       ", libs[2], "\nrounds:  ", rounds, "\n\n")
tab <- data.frame(case = colnames(A), A_median_s = apply(A, 2, stats::median),
                  B_median_s = apply(B, 2, stats::median),
                  ratio_B_over_A = apply(ratio, 2, stats::median),
                  ratio_min = apply(ratio, 2, min), ratio_max = apply(ratio, 2, max))
print(format(tab, digits = 3), row.names = FALSE)
sink()
