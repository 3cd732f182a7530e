# Should variable projection (moe_control(varpro = TRUE)) become the default
# solver for linear and constant experts? A decision rule, written down before
# these runs, applied to designs on which variable projection had never been
# run. (It had been run on the paper's two Figure 1 designs with seed
# 20240513, bench/valley-varpro*.out, and on mcycle seeds 1-15,
# bench/multistart-wide-varpro.out; those are not used here.)
#
#   Rscript bench/varpro-decision.R     (writes bench/varpro-decision.out;
#                                        SIGMOE_LIB as elsewhere)
#
# Held-out designs (k = 3 for k* = 2, both gates on the same data, near-truth
# starts, init_sd = 0.05, box "auto", 2 multisession workers):
#   H1  paper_truth("same_data", "constant"), n = paper_sizes(12), 20 reps, seed 20240601
#   H2  paper_truth("zero_slope", "constant"), the same, seed 20240602
#   H3  paper_truth("same_data", "linear"), the same, seed 20240603
#   H4  MASS::mcycle (accel ~ times), linear experts, k = 2, 3, 4, seeds
#       16-30: the default search of moe_fit() with each solver, against the
#       best of 200 data-driven starts of either solver (set.seed(1000 + seed))
# Each study runs once with moe_control() and once with
# moe_control(varpro = TRUE), on the same data and starts.
#
# The rule: adopt variable projection as the default for these experts only if
#   C1  over H1-H3, no more of its fits stop at maxit than of the default's;
#   C2  in every gate x design of H1-H3, the median of (SSE_vp - SSE) / SSE
#       is at most +1e-5, and its SSE is the lower in at least 40% of the
#       fits (ties at 1e-9 relative count for neither);
#   C3  on H4 its search ends within 0.1% of the reference in at least as
#       many fits as the default's;
#   C4  over H1-H3 the fits' summed seconds are at most those of the default.
# The rule decides only whether the switch is worth making; making it means
# regenerating the stored studies (data-raw/paper.R) and re-reading every
# conclusion about these experts, which is separate work.
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
suppressPackageStartupMessages(library(sigmoe))
future::plan(future::multisession, workers = 2)

lines <- character(0)
say <- function(...) {
  s <- sprintf(...)
  cat(s, "\n", sep = "")
  lines <<- c(lines, s)
}
say("bench/varpro-decision.R  %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z"))
cpu <- sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
say("machine: %s, %d cores; %s; load average at start %s", cpu, parallel::detectCores(),
    R.version.string, paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " "))

designs <- list(H1 = list(design = "same_data", expert = "constant", seed = 20240601L),
                H2 = list(design = "zero_slope", expert = "constant", seed = 20240602L),
                H3 = list(design = "same_data", expert = "linear", seed = 20240603L))
study <- function(h, vp) {
  convergence_study(paper_truth(h$design, h$expert), n = paper_sizes(12), reps = 20L, k = 3L,
                    gating = c("sigmoid", "softmax"), expert = h$expert, sd = 0.1, seed = h$seed,
                    init = "near_truth", split = 1L, init_sd = 0.05, bounds = "auto",
                    control = moe_control(varpro = vp), progress = FALSE)
}
key <- c("gating", "n", "rep")
c1 <- c(default = 0, varpro = 0)
c4 <- c(default = 0, varpro = 0)
c2_ok <- TRUE
for (nm in names(designs)) {
  h <- designs[[nm]]
  base <- study(h, FALSE)$results
  vp <- study(h, TRUE)$results
  m <- merge(base[, c(key, "sse", "code", "seconds")], vp[, c(key, "sse", "code", "seconds")],
             by = key, suffixes = c("", ".vp"))
  c1 <- c1 + c(sum(m$code == -1L, na.rm = TRUE), sum(m$code.vp == -1L, na.rm = TRUE))
  c4 <- c4 + c(sum(m$seconds), sum(m$seconds.vp))
  for (g in c("sigmoid", "softmax")) {
    mm <- m[m$gating == g, ]
    rel <- (mm$sse.vp - mm$sse) / mm$sse
    lower <- mean(rel < -1e-9)
    ok <- stats::median(rel) <= 1e-5 && lower >= 0.4
    c2_ok <- c2_ok && ok
    say("%s %-10s %-8s %-7s fits %d: maxit %d (default) vs %d (varpro); SSE lower with varpro in %.0f%%, higher in %.0f%%, median %+.2g relative; seconds %.1f vs %.1f; C2 %s",
        nm, h$design, h$expert, g, nrow(mm), sum(mm$code == -1L, na.rm = TRUE),
        sum(mm$code.vp == -1L, na.rm = TRUE), 100 * lower, 100 * mean(rel > 1e-9),
        stats::median(rel), sum(mm$seconds), sum(mm$seconds.vp), if (ok) "holds" else "fails")
  }
}

# H4: the default search on mcycle with linear experts
mc <- MASS::mcycle
h4 <- do.call(rbind, lapply(2:4, function(k) do.call(rbind, lapply(16:30, function(s) {
  fit <- function(...) moe_fit(mc$times, mc$accel, k, expert = "linear", ...)$sse
  ref <- Inf
  for (vp in c(FALSE, TRUE)) {
    set.seed(1000 + s)
    ref <- min(ref, fit(nstart = 200L, control = moe_control(varpro = vp)))
  }
  out <- c(default = NA, varpro = NA)
  for (vp in c(FALSE, TRUE)) {
    set.seed(s)
    out[if (vp) "varpro" else "default"] <- suppressWarnings(fit(control = moe_control(varpro = vp)))
  }
  data.frame(k = k, seed = s, ref = ref, default = out[["default"]], varpro = out[["varpro"]])
}))))
ok4 <- c(default = sum(h4$default <= h4$ref * 1.001), varpro = sum(h4$varpro <= h4$ref * 1.001))
for (k in 2:4)
  say("H4 mcycle linear k=%d: within 0.1%% of the reference in %d (default) and %d (varpro) of 15",
      k, sum(h4$default[h4$k == k] <= h4$ref[h4$k == k] * 1.001),
      sum(h4$varpro[h4$k == k] <= h4$ref[h4$k == k] * 1.001))

say("")
say("C1 fits at maxit over H1-H3: default %d, varpro %d: %s", c1[["default"]], c1[["varpro"]],
    if (c1[["varpro"]] <= c1[["default"]]) "holds" else "fails")
say("C2 SSE in every gate x design of H1-H3: %s", if (c2_ok) "holds" else "fails")
say("C3 H4 searches within 0.1%%: default %d, varpro %d of %d: %s", ok4[["default"]], ok4[["varpro"]],
    nrow(h4), if (ok4[["varpro"]] >= ok4[["default"]]) "holds" else "fails")
say("C4 summed fit seconds over H1-H3: default %.1f, varpro %.1f: %s", c4[["default"]], c4[["varpro"]],
    if (c4[["varpro"]] <= c4[["default"]]) "holds" else "fails")
all_ok <- c1[["varpro"]] <= c1[["default"]] && c2_ok && ok4[["varpro"]] >= ok4[["default"]] &&
  c4[["varpro"]] <= c4[["default"]]
say("verdict: %s", if (all_ok) "the rule holds: the switch is worth making (with the stored studies regenerated)"
    else "the rule fails: keep the default solver")
writeLines(lines, "bench/varpro-decision.out")
