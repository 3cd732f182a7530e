# Why do projected softmax fits end at a higher SSE than the default solver's
# (bench/varpro-decision.out)? A diagnosis on design H3 of
# bench/varpro-decision.R (linear experts, same-data design, seed 20240603,
# 12 sizes, 20 replicates): the default solver and variable projection, each
# with the default tolerances and maxit = 200, with ftol = xtol = 1e-12, and
# with maxit = 2000. Per gate: how often the SSE ends lower or higher than the
# default solver's (beyond 1e-9 relative), the median relative change, fits at
# maxit, mean iterations and the summed fit seconds.
#
#   Rscript bench/varpro-tolerance.R   (writes bench/varpro-tolerance.out; SIGMOE_LIB as elsewhere)
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
suppressPackageStartupMessages(library(sigmoe))
future::plan(future::multisession, workers = 2)
study <- function(ctl)
  convergence_study(paper_truth("same_data", "linear"), n = paper_sizes(12), reps = 20L, k = 3L,
                    gating = c("sigmoid", "softmax"), expert = "linear", sd = 0.1, seed = 20240603L,
                    init = "near_truth", split = 1L, init_sd = 0.05, bounds = "auto", control = ctl,
                    progress = FALSE)$results
ctls <- list(default = moe_control(), varpro = moe_control(varpro = TRUE),
             varpro_tight = moe_control(varpro = TRUE, ftol = 1e-12, xtol = 1e-12),
             varpro_tight_2000 = moe_control(varpro = TRUE, ftol = 1e-12, xtol = 1e-12, maxit = 2000),
             default_2000 = moe_control(maxit = 2000))
res <- lapply(ctls, study)
lines <- c(sprintf("bench/varpro-tolerance.R  %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z")),
           sprintf("machine: %s, %d cores; %s", sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"),
                                                                  value = TRUE)[1]),
                   parallel::detectCores(), R.version.string),
           "solver             gate     SSE vs default: lower higher median    maxit  iterations  seconds")
b <- res$default
for (nm in names(res)) for (g in c("sigmoid", "softmax")) {
  r <- res[[nm]]
  i <- r$gating == g
  rel <- (r$sse[i] - b$sse[i]) / b$sse[i]
  lines <- c(lines, sprintf("%-18s %-8s %19.0f%% %5.0f%% %+9.2g %6d %11.1f %8.1f", nm, g,
                            100 * mean(rel < -1e-9), 100 * mean(rel > 1e-9), stats::median(rel),
                            sum(r$code[i] == -1L), mean(r$iterations[i]), sum(r$seconds[i])))
}
writeLines(lines)
writeLines(lines, "bench/varpro-tolerance.out")
