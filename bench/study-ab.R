# Interleaved A/B timing of the paper-scale study of bench/study.R between
# installs of sigmoe (two versions cannot share one R process): each round
# runs the study once per contender, each in a fresh child process, in an
# order that rotates between rounds; ratios to the first contender are taken
# per round, so that load on the shared machine hits all alike.
#
#   Rscript bench/study-ab.R NAME=LIB[:CONTROL] NAME=LIB[:CONTROL] ... [--rounds=3]
#         [--reduced] [--out=bench/study-ab.out]
#
# CONTROL is a list of moe_control() settings for the study, such as
# "valley_tol=0.01,valley_m=10" (settings a version does not know are an
# error in that version). The study: the softmax truth of bench/study.R
# (both gates, ReLU and linear experts, k* = 2, k = 3, 20 sizes from 1e3 to
# 1e5, 40 replicates: 3,200 fits; 4 replicates with --reduced), near-truth
# starts, 2 multisession workers.
args <- commandArgs(trailingOnly = TRUE)
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
reduced <- "--reduced" %in% args
if ("--child" %in% args) {
  lib <- flag("lib", "")
  .libPaths(c(lib, .libPaths()))
  Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
  suppressPackageStartupMessages(library(sigmoe))
  ctl_text <- flag("control", "")
  ctl <- if (nzchar(ctl_text)) eval(parse(text = sprintf("moe_control(%s)", ctl_text))) else moe_control()
  future::plan(future::multisession, workers = 2L)
  invisible(future.apply::future_lapply(1:2, function(i) Sys.getpid()))
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                      gating = "softmax", expert = "relu")
  n <- round(10^seq(3, 5, length.out = 20))
  t <- system.time(st <- convergence_study(truth, n = n, reps = if (reduced) 4L else 40L, k = 3,
                                           gating = c("sigmoid", "softmax"),
                                           expert = c("relu", "linear"), sd = 0.1,
                                           seed = 20240513, init = "near_truth",
                                           control = ctl, progress = FALSE))[["elapsed"]]
  future::plan(future::sequential)
  d <- as.data.frame(st)
  res <- list(elapsed = t, fit_s = sum(d$seconds), at_maxit = mean(d$code == -1L, na.rm = TRUE),
              iterations = mean(d$iterations), losses = d[, c("voronoi", "expert_error", "l2")],
              version = as.character(utils::packageVersion("sigmoe")))
  saveRDS(res, flag("save", ""))
  quit(save = "no")
}

specs <- grep("^--", args, value = TRUE, invert = TRUE)
if (length(specs) < 2L) stop("give at least two contenders NAME=LIB[:CONTROL]")
contenders <- lapply(specs, function(s) {
  name <- sub("=.*", "", s)
  rest <- sub("^[^=]*=", "", s)
  list(name = name, lib = sub(":.*", "", rest),
       control = if (grepl(":", rest)) sub("^[^:]*:", "", rest) else "")
})
names(contenders) <- vapply(contenders, `[[`, "", "name")
rounds <- as.integer(flag("rounds", "3"))
out_file <- flag("out", if (reduced) "bench/study-ab-reduced.out" else "bench/study-ab.out")
lines <- character(0)
say <- function(...) {
  s <- sprintf(...)
  cat(s, "\n", sep = "")
  lines <<- c(lines, s)
}
cpu <- sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
say("bench/study-ab.R  %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z"))
say("machine: %s, %d cores; %s", cpu, parallel::detectCores(), R.version.string)
say("study: %s, 2 workers; %d rounds", if (reduced) "REDUCED (4 replicates)" else "paper scale (3,200 fits)",
    rounds)
for (ct in contenders) say("  %-10s lib %s, control: %s", ct$name, ct$lib,
                           if (nzchar(ct$control)) ct$control else "defaults")
runs <- list()
for (r in seq_len(rounds)) {
  ord <- names(contenders)[(seq_along(contenders) + r - 2L) %% length(contenders) + 1L]
  for (nm in ord) {
    ct <- contenders[[nm]]
    f <- tempfile(fileext = ".rds")
    load <- strsplit(readLines("/proc/loadavg"), " ")[[1]][1]
    status <- system2(file.path(R.home("bin"), "Rscript"),
                      c("bench/study-ab.R", "--child", paste0("--lib=", ct$lib),
                        shQuote(paste0("--control=", ct$control)), paste0("--save=", f),
                        if (reduced) "--reduced"))
    if (status != 0) stop(sprintf("the child for %s failed", nm))
    res <- readRDS(f)
    runs[[nm]][[r]] <- res
    say("round %d  %-10s %6.1f s elapsed, %7.1f s in fits, %4.1f%% at maxit, %5.1f iterations (load before %s)",
        r, nm, res$elapsed, res$fit_s, 100 * res$at_maxit, res$iterations, load)
  }
}
say("")
base <- names(contenders)[1L]
el <- sapply(names(contenders), function(nm) vapply(runs[[nm]], `[[`, 0, "elapsed"))
el <- matrix(el, nrow = rounds, dimnames = list(NULL, names(contenders)))
say("median elapsed: %s", paste(sprintf("%s %.1f s", colnames(el), apply(el, 2, stats::median)),
                                collapse = ", "))
for (nm in names(contenders)[-1]) {
  same <- identical(runs[[nm]][[1]]$losses, runs[[base]][[1]]$losses)
  say("%-10s / %s: per-round ratios %s, median %.2f; losses %s", nm, base,
      paste(sprintf("%.2f", el[, nm] / el[, base]), collapse = ", "),
      stats::median(el[, nm] / el[, base]),
      if (same) "identical" else "differ")
}
writeLines(lines, out_file)
