# Fit by fit, what a change of the solver's arithmetic did to a stored study:
# two moe_study objects of the same design (same seeds, same tasks), one from
# the build before the change and one from after, compared on every fit:
# SSE, losses, iterations, stops at maxit, and the rate table's slopes with
# the first study's 95% bootstrap CIs.
#
#   Rscript bench/study-diff.R OLD.rds NEW.rds [--out=bench/study-diff.out] [--label=TEXT]
#
# OLD.rds can come from git, for instance
#   git show HEAD~1:inst/extdata/figure1_same_data.rds > /tmp/old.rds
args <- commandArgs(trailingOnly = TRUE)
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
files <- grep("^--", args, value = TRUE, invert = TRUE)
if (length(files) != 2) stop("usage: Rscript bench/study-diff.R OLD.rds NEW.rds [--out=FILE] [--label=TEXT]")
out <- flag("out", "bench/study-diff.out")
suppressPackageStartupMessages(library(sigmoe))
old <- readRDS(files[1])
new <- readRDS(files[2])
a <- as.data.frame(old)
b <- as.data.frame(new)
keys <- c("gating", "expert", "n", "rep")
a <- a[do.call(order, a[keys]), ]
b <- b[do.call(order, b[keys]), ]
if (!identical(a[keys], b[keys]) || !identical(a$seed, b$seed))
  stop("the two studies do not hold the same fits (gate, expert, n, replicate and seed)")

sink(out, split = TRUE)
cat("sigmoe: one study before and after a change, fit by fit (bench/study-diff.R)\n")
cat("date:    ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cat("label:   ", flag("label", "(none)"), "\n")
cat("old:     ", files[1], "\n")
cat("new:     ", files[2], "\n")
cat(sprintf("fits:     %d (%s)\n\n", nrow(a), paste(unique(paste(a$gating, a$expert)), collapse = ", ")))

rel <- function(x, y) (y - x) / pmax(abs(x), .Machine$double.xmin)
q <- function(v) {
  v <- v[is.finite(v)]
  sprintf("median %+.2e, 1%% %+.2e, 99%% %+.2e, max |.| %.2e", stats::median(v),
          stats::quantile(v, 0.01), stats::quantile(v, 0.99), max(abs(v)))
}
cells <- split(seq_len(nrow(a)), interaction(a$gating, a$expert, drop = TRUE, sep = " "))
cat("Per gate and expert: fits whose SSE is bit-identical, within a relative 1e-12 (but not\n")
cat("identical), lower and higher after the change (beyond 1e-12), and the relative SSE change:\n")
for (nm in names(cells)) {
  i <- cells[[nm]]
  r <- rel(a$sse[i], b$sse[i])
  same <- a$sse[i] == b$sse[i]
  cat(sprintf("  %-16s identical %4d, within %4d, lower %4d, higher %4d; %s\n", nm, sum(same),
              sum(!same & abs(r) <= 1e-12), sum(r < -1e-12), sum(r > 1e-12), q(r)))
}
cat("\nFits whose loss moved by more than 1% (relative), per loss:\n")
for (loss in c("voronoi", "expert_error", "l2")) {
  r <- rel(a[[loss]], b[[loss]])
  cat(sprintf("  %-12s %4d of %d; %s\n", loss, sum(abs(r) > 0.01, na.rm = TRUE), nrow(a), q(r)))
}
cat(sprintf("\nStops at maxit: %d before, %d after; mean iterations %.1f before, %.1f after\n",
            sum(a$code == -1, na.rm = TRUE), sum(b$code == -1, na.rm = TRUE),
            mean(a$iterations, na.rm = TRUE), mean(b$iterations, na.rm = TRUE)))
cat(sprintf("Fits ending at a bound of the box: %d before, %d after\n\n",
            sum(a$at_bound, na.rm = TRUE), sum(b$at_bound, na.rm = TRUE)))

ra <- rate_table(old, seed = 1)
rb <- rate_table(new, seed = 1)
m <- merge(as.data.frame(ra)[c("gating", "expert", "loss", "slope", "lower", "upper")],
           as.data.frame(rb)[c("gating", "expert", "loss", "slope")],
           by = c("gating", "expert", "loss"), suffixes = c("_old", "_new"))
m$inside <- m$slope_new >= m$lower & m$slope_new <= m$upper
cat("Slopes of log(mean loss) on log(n), and whether the new one lies in the old 95% CI:\n")
print(format(data.frame(m[c("gating", "expert", "loss")], old = round(m$slope_old, 4),
                        CI = sprintf("[%.3f, %.3f]", m$lower, m$upper), new = round(m$slope_new, 4),
                        inside = m$inside)), row.names = FALSE)
cat(sprintf("\n%d of %d slopes inside the old CIs\n", sum(m$inside), nrow(m)))
sink()
