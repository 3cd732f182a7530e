# When do threads pay? (src/threads.c, ?moe_threads)
#
#   SIGMOE_BENCH_LIB=/tmp/lib Rscript bench/threads.R [--rounds=7] [--out=bench/threads.out]
#
# Run from the repository root with sigmoe installed in SIGMOE_BENCH_LIB.
#
# 1. The break-even: one normal-equation pass (what every iteration of a fit
#    costs) and one evaluation of the model, at P = 12 (sigmoid gate, 3 ReLU
#    experts, d = 1) and P = 110 (5 experts, d = 10), with 1 and 2 threads
#    and the rule's caps turned off, interleaved in one process; per round the
#    ratio of the 2-thread to the 1-thread time, and its median. The
#    break-even n is the smallest n of the grid from which the median ratio
#    stays below 1; the rule's rows per thread are half of it.
# 2. Fits at n = 1e3, 1e4, 1e5 (one local search, as bench/ab.R) with
#    threads = 1, with threads = 2 as before (no caps) and with threads = 2
#    under the rule, interleaved; per-round ratios to threads = 1.
# 3. The same with one busy process started beside it (an artificial load),
#    once the load average has seen it; the process is killed after.
args <- commandArgs(trailingOnly = TRUE)
flag <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[1]) else default
}
rounds <- as.integer(flag("rounds", "7"))
out_file <- flag("out", "bench/threads.out")
lib <- Sys.getenv("SIGMOE_BENCH_LIB")
if (!nzchar(lib)) stop("set SIGMOE_BENCH_LIB to the library where sigmoe is installed")
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))
ns <- asNamespace("sigmoe")

lines <- character(0)
say <- function(...) {
  txt <- sprintf(...)
  cat(txt, "\n", sep = "")
  lines <<- c(lines, txt)
}
shell1 <- function(cmd) tryCatch(paste(system(cmd, intern = TRUE), collapse = " "),
                                 error = function(e) NA_character_)
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
say("bench/threads.R, %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z"))
say("machine: nproc %s, %s; %s; BLAS %s", shell1("nproc"),
    if (length(cpu)) sub("^model name\\s*:\\s*", "", cpu[1]) else "CPU unknown",
    R.version.string, extSoftVersion()[["BLAS"]])
say("load average at the start: %s", shell1("cat /proc/loadavg"))
say("rounds: %d", rounds)

# ---- timing helpers ----
# seconds per call of f, over a batch of reps calls
per_call <- function(f, reps) {
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(reps)) f()
  (proc.time()[["elapsed"]] - t0) / reps
}
# reps so that a batch takes about `target` seconds at the speed of f
calibrate <- function(f, target) {
  reps <- 1L
  repeat {
    t <- per_call(f, reps) * reps
    if (t >= 0.01 || reps >= 2^20) break
    reps <- reps * 4L
  }
  max(1L, as.integer(round(target / max(t / reps, 1e-7))))
}
fmt_ratios <- function(r) paste(sprintf("%.2f", r), collapse = " ")

model <- function(d, k) {
  set.seed(1)
  moe_params(beta0 = rnorm(k), beta1 = matrix(rnorm(k * d), k), a = matrix(rnorm(k * d), k),
             b = rnorm(k), gating = "sigmoid", expert = "relu")
}

# ---- 1. the break-even ----
say("")
say("== 1. break-even: time(2 threads) / time(1 thread), caps off, per round and median ==")
prev <- ns$threads_tune(rows_scale = 0, load = FALSE)
grid <- c(500, 1000, 2000, 4000, 8000, 16000, 32000, 64000)
breakeven <- list()
for (dk in list(c(1, 3), c(10, 5))) {
  p <- model(dk[1], dk[2])
  spec <- ns$params_spec(p)
  theta <- ns$params_theta(p)
  P <- length(theta)
  for (kind in c("pass", "eval")) {
    med <- numeric(0)
    for (n in grid) {
      set.seed(2)
      x <- matrix(runif(n * dk[1], -1, 1), n)
      y <- runif(n)
      call <- if (kind == "pass") function(nt) .Call(ns$C_model_crossprod, spec, theta, x, y, nt)
              else function(nt) .Call(ns$C_model_eval, spec, theta, x, FALSE, nt)
      one <- function() call(1L)
      two <- function() call(2L)
      reps <- calibrate(one, 0.02)
      r <- numeric(rounds)
      t1s <- numeric(rounds)
      for (i in seq_len(rounds)) {
        if (i %% 2) { t1 <- per_call(one, reps); t2 <- per_call(two, reps) }
        else { t2 <- per_call(two, reps); t1 <- per_call(one, reps) }
        r[i] <- t2 / t1
        t1s[i] <- t1
      }
      med[as.character(n)] <- stats::median(r)
      say("P = %3d %-4s n = %6d: 1 thread %9.1f us; ratios %s; median %.2f", P, kind, n,
          stats::median(t1s) * 1e6, fmt_ratios(r), stats::median(r))
    }
    below <- med < 1
    from <- which(rev(cumprod(rev(below))) == 1)
    n_star <- if (length(from)) grid[min(from)] else NA
    breakeven[[sprintf("%s P=%d", kind, P)]] <- n_star
    say("P = %3d %-4s break-even: %s", P, kind,
        if (is.na(n_star)) "none in the grid (2 threads never paid)"
        else sprintf("n = %d, %d rows per thread", n_star, n_star / 2))
  }
}
ns$threads_tune(rows_scale = prev$rows_scale, load = prev$load)
say("the rule's rows per thread (P = 12 / P = 110): pass %s / %s, eval %s / %s",
    moe_threads(2, 1e5, 12)[["rows_fit"]], moe_threads(2, 1e5, 110)[["rows_fit"]],
    moe_threads(2, 1e5, 12)[["rows_eval"]], moe_threads(2, 1e5, 110)[["rows_eval"]])

# ---- 2 and 3. fits, before and after, without and with a load ----
truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                    gating = "sigmoid", expert = "relu")
start <- moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5), a = c(0.8, 1.3, -0.8),
                    b = c(0.1, 0.3, 0.3), gating = "sigmoid", expert = "relu")
data <- lapply(c(1e3, 1e4, 1e5), function(n) {
  set.seed(1)
  d <- moe_simulate(truth, n = n, sd = 0.05)
  list(n = n, x = matrix(d$x1, ncol = 1), y = d$y)
})
fit_once <- function(d, threads) {
  # the fit at n = 1e3 stops at its iteration limit (see README): a warning
  suppressWarnings(moe_fit(d$x, d$y, k = 3, start = start, nstart = 0,
                           control = moe_control(threads = threads)))
}
# one contender: threads = 1, threads = 2 without the caps ("before"), or
# threads = 2 under the rule ("after")
run <- function(d, who, reps) {
  if (who == "before") {
    old <- ns$threads_tune(rows_scale = 0, load = FALSE)
    on.exit(ns$threads_tune(rows_scale = old$rows_scale, load = old$load))
  }
  per_call(function() fit_once(d, if (who == "one") 1L else 2L), reps)
}
fits <- function(label) {
  say("")
  say("== %s ==", label)
  say("load average: %s; moe_threads(2): %s", shell1("cat /proc/loadavg"),
      paste(names(moe_threads(2)), moe_threads(2), sep = "=", collapse = " "))
  for (d in data) {
    reps <- max(1L, round(1e5 / d$n))
    invisible(fit_once(d, 1L))
    who <- c("one", "before", "after")
    t <- matrix(NA_real_, rounds, 3, dimnames = list(NULL, who))
    for (i in seq_len(rounds)) {
      ord <- if (i %% 2) who else rev(who)
      for (w in ord) t[i, w] <- run(d, w, reps)
    }
    rb <- t[, "before"] / t[, "one"]
    ra <- t[, "after"] / t[, "one"]
    used <- moe_threads(2, d$n, 12)[["fit"]]
    say("n = %g: threads = 1 %.4f s (median); threads = 2 before / 1: %s, median %.2f", d$n,
        stats::median(t[, "one"]), fmt_ratios(rb), stats::median(rb))
    say("         threads = 2 after (uses %d) / 1: %s, median %.2f", used, fmt_ratios(ra),
        stats::median(ra))
  }
}
fits("2. fits (sigmoid gate, ReLU experts, d = 1, k = 3, P = 12), the machine as it is")

busy <- tempfile(fileext = ".pid")
system(sprintf("%s -e 'writeLines(as.character(Sys.getpid()), \"%s\"); repeat{}'",
               file.path(R.home("bin"), "Rscript"), busy), wait = FALSE)
for (i in 1:20) if (file.exists(busy) && length(readLines(busy)) == 1L) break else Sys.sleep(0.25)
busy_pid <- as.integer(readLines(busy))
base_load <- moe_threads(2)[["load"]]
# the 1-minute load average takes about a minute to see a new busy process
waited <- 0
while (waited < 90) {
  Sys.sleep(5)
  waited <- waited + 5
  if (waited >= 30 && (moe_threads(2)[["load"]] > base_load || moe_threads(2)[["free"]] == 1L)) break
}
say("")
say("one busy process started (pid %d); waited %d s for the load average to see it", busy_pid,
    waited)
fits("3. the same fits beside one busy process")
tools::pskill(busy_pid)
unlink(busy)

writeLines(lines, out_file)
cat("wrote", out_file, "\n")
