# Precomputes the studies the vignettes figure1 and table1 show, into
# inst/extdata. Run from the package root after installing the package:
#
#   Rscript data-raw/paper.R
#
# It runs on 2 workers (future multisession) and caches every finished task
# in the session's temporary area (the directory above tempdir(), or
# SIGMOE_PAPER_CACHE), so an interrupted run, started again, resumes where it
# stopped. The seeds are fixed, so a rerun gives the same numbers (all but the
# timings). On 2026-12-02 it took 11 minutes (the global search 4.5) on a
# 2-core VM, with sigmoe 0.1.1; earlier that day, with 0.1.0 and other jobs
# loading the machine, 51 minutes (the global search 29).
#
# ---- Settings, fixed before the runs ---------------------------------------
#
# Common to every study (those of paper_study()):
#   truth     paper_truth(design, expert): a two-expert softmax model with
#             logits (0.5 + beta1 x, 0) and experts h(1.5 x + 0.3), h(-x + 0.2)
#             (the constant expert: b = 0.3, 0.2), which is also a two-expert
#             sigmoid model, so both gates are fitted to the same data and
#             both are well specified;
#               "same_data":  beta1 = 3, regime "nonzero_slope";
#               "zero_slope": beta1 = 0, regime "zero_slope";
#   fitted    k = 3 experts (k* = 2), the surplus atom on true atom 1
#             (split = 1), sigmoid and softmax gates on the same data sets;
#   data      X ~ U[-1, 1], noise sd 0.1;
#   losses    Voronoi loss (r_exact = 1, r_over = 2), expert errors, L2(mu)
#             regression error, the largest cell error; evaluation sample of
#             10,000 points;
#   box       bounds = "auto": [-c, c] on every free parameter, c the larger
#             of 10 and twice the largest |parameter| of the truth and of
#             every start before noise (the study prints it);
#   starts    init_sd = 0.05 noise on every free parameter of a start;
#   solver    moe_control() defaults (maxit = 200).
#
# 1. Figure 1 (what the README's main command reproduces):
#      designs "same_data" and "zero_slope"; experts relu, linear;
#      n = paper_sizes(20) (20 sizes, 1e3 to 1e5); reps = 40; seed 20240513;
#      init = "near_truth", default surplus (same_data: sigmoid "dead",
#      softmax "split"; zero_slope: "split" for both gates).
#      -> figure1_same_data.rds, figure1_zero_slope.rds
# 2. Representations and global search, design "same_data" only, a reduced
#    grid: experts relu, linear, gelu; n = paper_sizes(8) (8 sizes, 1e3 to
#    1e5); reps = 20; seed 20240515 (the same data sets in every study):
#      split   surplus = "split" for both gates (not exact for the sigmoid
#              gate here: the old default, kept to show where it leads);
#      dead    surplus = "dead" for both gates;
#      scaled  surplus = c(sigmoid = "scaled", softmax = "split"), experts
#              relu and linear only (scaled is no representation for GELU);
#      global  init = "global", nstart = 4: every applicable representation
#              (sigmoid: dead, scaled for relu/linear; softmax: split, dead)
#              plus 4 data-driven starts, the lowest SSE kept.
#      -> representations.rds (a named list of the four studies)
# 3. Table 1: paper_table1(reps = 20, n = paper_sizes(12), seed = 20240514),
#      defaults otherwise (both designs; experts relu, gelu, polynomial of
#      degree 2, constant, linear; near_truth, default surplus).
#      -> table1.rds
# 4. figure1_anatomy.rds: ten sigmoid ReLU fits of study 1 ("same_data") at
#      the smallest and ten at the largest n, replayed from their seeds, with
#      how their surplus atom contributes nothing (vignette figure1).
# Nothing here was changed after seeing results.
suppressPackageStartupMessages(library(sigmoe))
out <- file.path("inst", "extdata")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
cache <- Sys.getenv("SIGMOE_PAPER_CACHE", file.path(dirname(tempdir()), "sigmoe-paper-cache"))
future::plan(future::multisession, workers = 2)
t0 <- Sys.time()
elapsed <- c()

save_xz <- function(x, file) {
  saveRDS(x, file.path(out, file), compress = "xz")
  cat(sprintf("  wrote %s (%.0f kB)\n", file, file.size(file.path(out, file)) / 1024))
}

# ---- 1. Figure 1 -------------------------------------------------------------
for (design in c("same_data", "zero_slope")) {
  st <- paper_study(design, expert = c("relu", "linear"), n = paper_sizes(20), reps = 40,
                    seed = 20240513, cache_dir = file.path(cache, paste0("figure1_", design)),
                    progress = FALSE)
  elapsed[[paste0("figure1_", design)]] <- st$elapsed
  cat(sprintf("figure1 %s: %d fits in %.0f s\n", design, nrow(st$results), st$elapsed))
  save_xz(st, sprintf("figure1_%s.rds", design))
}

# ---- 3. Table 1 (before the long global search) --------------------------------
tt <- proc.time()[["elapsed"]]
tab <- paper_table1(reps = 20, n = paper_sizes(12), seed = 20240514,
                    cache_dir = file.path(cache, "table1"), progress = FALSE)
elapsed[["table1"]] <- proc.time()[["elapsed"]] - tt
save_xz(tab, "table1.rds")
print(tab)

# ---- 2. Representations and the global search --------------------------------
rep_n <- paper_sizes(8)
rep_seed <- 20240515
reps <- list()
for (s in c("split", "dead")) {
  reps[[s]] <- paper_study("same_data", expert = c("relu", "linear", "gelu"), n = rep_n,
                           reps = 20, seed = rep_seed, surplus = s,
                           cache_dir = file.path(cache, paste0("rep_", s)), progress = FALSE)
}
reps$scaled <- paper_study("same_data", expert = c("relu", "linear"), n = rep_n, reps = 20,
                           seed = rep_seed, surplus = c(sigmoid = "scaled", softmax = "split"),
                           cache_dir = file.path(cache, "rep_scaled"), progress = FALSE)
# paper_study() fixes init = "near_truth" itself, so `init = "global"` cannot go
# through its `...`; the same settings, spelled out:
reps$global <- convergence_study(
  paper_truth("same_data", "relu"), n = rep_n, reps = 20, k = 3L,
  gating = c("sigmoid", "softmax"), expert = c("relu", "linear", "gelu"), sd = 0.1,
  seed = rep_seed, init = "global", nstart = 4L, split = 1L, init_sd = 0.05,
  losses = list("voronoi", "expert_error", "l2",
                cell_error = function(fit, truth, x) max(cell_error(fit, truth, x))),
  cache_dir = file.path(cache, "rep_global"), progress = FALSE)
for (s in names(reps)) {
  elapsed[[paste0("rep_", s)]] <- reps[[s]]$elapsed
  cat(sprintf("representations %s: %d fits in %.0f s\n", s, nrow(reps[[s]]$results),
              reps[[s]]$elapsed))
}
# The vignettes read results and setup; the cache path, call and the like are
# not needed.
reps <- lapply(reps, function(st) {
  st$cache_dir <- NULL
  st$call <- NULL
  st
})
save_xz(reps, "representations.rds")

# ---- 4. Where the sigmoid surplus atoms end (vignette figure1) -----------------
# Replays ten sigmoid ReLU fits of the Figure 1 same-data study at the smallest
# and at the largest n from their stored seeds, and records how the surplus
# atom (the one with the smallest gated output on the support) contributes
# nothing: through its gate, or through its expert (a ReLU that is 0 on the
# whole support), and how many of its parameters are on a face of the box.
# Stored, so that the vignette runs no fit.
surplus_anatomy <- function(st, n_values, reps_used = 1:10) {
  x <- seq(-1, 1, length.out = 2001)
  half <- st$setup$bounds$half
  one <- function(p) {
    g <- stats::plogis(outer(x, p$beta1[, 1]) + rep(p$beta0, each = length(x)))
    h <- pmax(outer(x, p$a[, 1]) + rep(p$b, each = length(x)), 0)
    i <- which.min(apply(abs(g * h), 2, max))
    theta <- c(p$beta0[i], p$beta1[i, 1], p$a[i, 1], p$b[i])
    c(gated_output = max(abs(g[, i] * h[, i])), gate_max = max(g[, i]),
      expert_max = max(h[, i]), on_face = sum(abs(theta) >= half * (1 - 1e-8)),
      beta0 = p$beta0[i], beta1 = p$beta1[i, 1], a = p$a[i, 1], b = p$b[i])
  }
  out <- do.call(rbind, lapply(n_values, function(n) do.call(rbind, lapply(reps_used, function(r) {
    cell <- study_replay(st, gating = "sigmoid", n = n, rep = r, expert = "relu")
    data.frame(n = n, rep = r, t(one(coef(cell$fit))), voronoi = cell$result$voronoi,
               expert_error1 = cell$result$expert_error1)
  }))))
  out$off_by <- ifelse(out$expert_max < 1e-8, "expert",
                       ifelse(out$gated_output < 0.05 * out$expert_max, "gate", "neither"))
  out
}
st_a <- readRDS(file.path(out, "figure1_same_data.rds"))
saveRDS(surplus_anatomy(st_a, range(st_a$setup$n)), file.path(out, "figure1_anatomy.rds"),
        compress = "xz")

info <- list(date = Sys.time(), elapsed_s = as.numeric(difftime(Sys.time(), t0, units = "secs")),
             study_elapsed_s = elapsed,
             machine = c(Sys.info()[c("sysname", "release", "machine")],
                         cores = parallel::detectCores(), workers = 2),
             session = utils::sessionInfo())
saveRDS(info, file.path(out, "paper-session.rds"))
future::plan(future::sequential)
cat(sprintf("done in %.0f s\n", info$elapsed_s))
