# Precomputes the studies the vignettes figure1 and table1 show, into
# inst/extdata. Run from the package root after installing the package:
#
#   Rscript data-raw/paper.R
#
# It uses all cores (future multisession) and takes about 6 minutes on a
# 2-core machine. The seeds are fixed, so a rerun gives the same numbers.
suppressPackageStartupMessages(library(sigmoe))
out <- file.path("inst", "extdata")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
cache <- file.path(tempdir(), "sigmoe-paper-cache")  # resumable if interrupted
t0 <- Sys.time()

# Figure 1: ReLU and linear experts, 20 sizes from 1e3 to 1e5, 40 replicates,
# in both designs (non-zero and zero gating slope of the over-specified atom).
for (design in c("same_data", "zero_slope")) {
  st <- paper_study(design, expert = c("relu", "linear"), n = paper_sizes(20), reps = 40,
                    seed = 20240513, cache_dir = file.path(cache, paste0("figure1_", design)),
                    progress = FALSE)
  saveRDS(st, file.path(out, sprintf("figure1_%s.rds", design)), compress = "xz")
  cat(sprintf("figure1 %s: %d fits in %.0f s\n", design, nrow(st$results), st$elapsed))
}

# Table 1: five expert types, both designs, 12 sizes from 1e3 to 1e5, 20 replicates.
tab <- paper_table1(reps = 20, n = paper_sizes(12), seed = 20240514,
                    cache_dir = file.path(cache, "table1"), progress = FALSE)
saveRDS(tab, file.path(out, "table1.rds"), compress = "xz")
print(tab)

info <- list(date = Sys.time(), elapsed_s = as.numeric(difftime(Sys.time(), t0, units = "secs")),
             machine = c(Sys.info()[c("sysname", "release", "machine")],
                         cores = parallel::detectCores()),
             session = utils::sessionInfo())
saveRDS(info, file.path(out, "paper-session.rds"))
cat(sprintf("done in %.0f s\n", info$elapsed_s))
