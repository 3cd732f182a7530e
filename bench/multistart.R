# How often does the default moe_fit() find the global minimum, and at what
# cost? For each problem of the benchmark set, the reference is the best SSE
# reached by 200 data-driven starts (and a start at the truth when there is
# one); a default fit succeeds when its SSE is within 0.1% of it.
#
#   Rscript bench/multistart.R [--quick] [--holdout] [--out=bench/multistart.out]
#         [--strategy=FILE.R]   (a file redefining default_fit(p) to compare)
#
# The set (fixed before the runs): the README truth (sigmoid gate, ReLU
# experts, beta1 = c(6, -6)) at n = 1e3 and 1e4, 20 data sets each (seeds
# 101-120), k = 2; MASS::mcycle (accel ~ times) with k = 2, 3, 4, 10 seeds of
# the fit's own random starts each; and a multivariate design (d = 3, k* = 3,
# sigmoid gate, ReLU experts), n = 2000, 10 data sets, k = 3.
#
# --wide runs other models, on which the moves of the search were also
# chosen, against the same 200-start reference: MASS::mcycle with linear
# experts (k = 1 to 4, seeds 1-15), with ReLU experts with output weights
# (k = 1 to 3, seeds 1-15) and with one ReLU expert (seeds 1-10), and
# `faithful` (eruptions ~ waiting) with sigmoid experts with output weights
# (k = 1 to 3, seeds 1-10); bench/multistart-wide.out, without the cost part.
#
# --holdout runs the same designs on seeds no setting of the search was ever
# chosen on (README truth 121-140, mcycle 201-220 for each k, the
# multivariate design 221-230); its output goes to bench/multistart-holdout.out.
# Another version of the package is measured by installing it in a library
# and naming it in SIGMOE_LIB (the README compares the previous default so).
args <- commandArgs(trailingOnly = TRUE)
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
quick <- "--quick" %in% args
holdout <- "--holdout" %in% args
wide <- "--wide" %in% args
out_file <- flag("out", if (quick) "bench/multistart-quick.out" else if (wide) "bench/multistart-wide.out"
                 else if (holdout) "bench/multistart-holdout.out" else "bench/multistart.out")
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))

problems <- list()
readme <- moe_params(c(0, 0), c(6, -6), c(1, -1), c(0.2, 0.2), gating = "sigmoid", expert = "relu")
seeds <- function(first, many) (first + if (holdout) c(readme = 20, mcycle = 200, multi = 20)[[many]] else 0) +
  seq_len(if (quick) 3 else c(readme = 20, mcycle = if (holdout) 20 else 10, multi = 10)[[many]]) - 1
for (n in c(1e3, 1e4)) for (s in seeds(101, "readme")) {
  set.seed(s)
  d <- moe_simulate(readme, n, 0.05)
  problems[[length(problems) + 1L]] <- list(name = sprintf("readme n=%g seed=%d", n, s), x = d$x1,
                                            y = d$y, k = 2L, truth = readme, seed = s)
}
mc <- MASS::mcycle
for (k in 2:4) for (s in seeds(1, "mcycle"))
  problems[[length(problems) + 1L]] <- list(name = sprintf("mcycle k=%d seed=%d", k, s),
                                            x = mc$times, y = mc$accel, k = k, truth = NULL, seed = s)
set.seed(7)
multi <- moe_params(beta0 = c(0.5, -0.5, 0), beta1 = matrix(c(3, -2, 0, 1, 2, -3, 0, 1, 1), 3),
                    a = matrix(c(1, -1, 0.5, 0.5, 1, -1, 0, 0.5, 1), 3), b = c(0.2, -0.1, 0.3),
                    gating = "sigmoid", expert = "relu")
for (s in seeds(201, "multi")) {
  set.seed(s)
  d <- moe_simulate(multi, 2000, 0.1)
  problems[[length(problems) + 1L]] <- list(name = sprintf("multi d=3 seed=%d", s),
                                            x = as.matrix(d[, 1:3]), y = d$y, k = 3L, truth = multi,
                                            seed = s)
}
if (wide) {
  problems <- list()
  add <- function(data, k, expert, ow, seeds)
    for (s in seeds) problems[[length(problems) + 1L]] <<- list(
      name = sprintf("%s %s%s k=%d seed=%d", data$name, expert, if (ow) "+c" else "", k, s),
      x = data$x, y = data$y, k = k, truth = NULL, seed = s, expert = expert, ow = ow)
  mcd <- list(name = "mcycle", x = mc$times, y = mc$accel)
  fd <- list(name = "faithful", x = datasets::faithful$waiting, y = datasets::faithful$eruptions)
  few <- function(m) seq_len(if (quick) 2 else m)
  for (k in 1:4) add(mcd, k, "linear", FALSE, few(15))
  for (k in 1:3) add(mcd, k, "relu", TRUE, few(15))
  add(mcd, 1L, "relu", FALSE, few(10))
  for (k in 1:3) add(fd, k, "sigmoid", TRUE, few(10))
}

# a problem's model: ReLU experts without output weights unless it says so
fit_problem <- function(p, ...)
  moe_fit(p$x, p$y, p$k, expert = if (is.null(p$expert)) "relu" else p$expert,
          output_weight = isTRUE(p$ow), ...)
# the reference: best of 200 data-driven starts and the truth
reference_sse <- function(p) {
  set.seed(1000 + p$seed)
  best <- fit_problem(p, nstart = if (quick) 60L else 200L,
                      start = if (!is.null(p$truth) && p$truth$k == p$k) p$truth)$sse
  best
}
default_fit <- function(p) {
  set.seed(p$seed)
  t <- system.time(f <- fit_problem(p))[["elapsed"]]
  list(sse = f$sse, seconds = t, starts = nrow(f$starts))
}
if (nzchar(flag("strategy", ""))) source(flag("strategy", ""))

rows <- lapply(problems, function(p) {
  ref <- reference_sse(p)
  df <- default_fit(p)
  data.frame(problem = p$name, ref = ref, sse = df$sse, gap = df$sse / ref - 1,
             ok = df$sse <= ref * 1.001, seconds = df$seconds, starts = df$starts)
})
tab <- do.call(rbind, rows)
# cost at large n: the default fit against one local search on all the data
# from the start that won (the cheapest a multi-start fit could ever be)
cost <- if (!wide) do.call(rbind, lapply(if (quick) 1e5 else c(1e5, 1e6), function(n) {
  do.call(rbind, lapply(1:3, function(s) {
    set.seed(300 + s)
    d <- moe_simulate(readme, n, 0.05)
    set.seed(s)
    t_default <- system.time(f <- moe_fit(d$x1, d$y, 2))[["elapsed"]]
    win <- f$starts[which.min(ifelse(f$starts$stage == "screen", Inf, f$starts$sse)), ]
    # the polished winner started from a screening minimum: its best data start
    set.seed(s)
    t_old <- system.time(f10 <- moe_fit(d$x1, d$y, 2, nstart = 10))[["elapsed"]]
    best_start <- which.min(f10$starts$sse)
    set.seed(s)
    starts10 <- sigmoe:::data_starts(matrix(d$x1), d$y, coef(f10), 10L, moe_control())
    st <- sigmoe:::theta_params(starts10[[best_start]], coef(f10))
    t_one <- system.time(f1 <- moe_fit(d$x1, d$y, 2, start = st, nstart = 0))[["elapsed"]]
    data.frame(n = n, seed = s, default_s = t_default, nstart10_s = t_old, one_search_s = t_one,
               ratio_default = t_default / t_one, ratio_nstart10 = t_old / t_one,
               sse_default = f$sse, sse_nstart10 = f10$sse, sse_one = f1$sse)
  }))
}))

sink(out_file, split = TRUE)
cat("sigmoe multi-start benchmark (bench/multistart.R)\n")
cat("date:    ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
cat(sprintf("machine:  %s x%d | sigmoe %s\n", trimws(sub("^model name\\s*:", "", cpu[1])),
            length(cpu), as.character(utils::packageVersion("sigmoe"))))
cat(sprintf("library:  %s%s\n", dirname(find.package("sigmoe")),
            if (wide) " | other models (--wide)" else if (holdout) " | held-out seeds" else ""))
cat(sprintf("success: %d of %d default fits within 0.1%% of the best of %d starts (%.1f%%)\n",
            sum(tab$ok), nrow(tab), if (quick) 60L else 200L, 100 * mean(tab$ok)))
group <- sub(" seed=.*", "", tab$problem)
agg <- do.call(rbind, lapply(split(tab, group), function(g)
  data.frame(set = sub(" seed=.*", "", g$problem[1]), fits = nrow(g), success = sum(g$ok),
             worst_gap = max(g$gap), median_seconds = stats::median(g$seconds),
             median_starts = stats::median(g$starts))))
print(agg, row.names = FALSE, digits = 3)
cat("\nfailures:\n")
print(tab[!tab$ok, ], row.names = FALSE, digits = 4)
if (!wide) {
  cat("\ncost at large n (README truth, k = 2): seconds of the default fit, of nstart = 10 (the",
      "\nold default) and of one local search from the best of those 10 starts:\n")
  print(cost, row.names = FALSE, digits = 3)
  cat(sprintf("median ratio default / one search: %s\n",
              paste(sprintf("n = %g: %.2f", unique(cost$n), tapply(cost$ratio_default, cost$n, stats::median)),
                    collapse = ", ")))
}
sink()
