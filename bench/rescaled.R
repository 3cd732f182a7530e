# The fixed R cost of moe_fit() on data the fit rescales, old against new.
#
# bench/task.R times a tiny fit whose data need no change of coordinates. Most
# real data do need one: mcycle's accel has a root mean square of 60, so y is
# scaled by 64; cars' dist too; a calendar year needs centring. Then the fit
# maps its start into its coordinates, its solution and J'J back. This times
# one moe_fit() from a converged start (nstart = 0, so the search is a few
# iterations) on four such data sets, and the same call's C search alone, in
# child processes for two libraries, alternating which goes first; BLAS is
# pinned to one thread in both timings (moe_fit() pins it itself).
#
#   SIGMOE_OLD_LIB=/tmp/lib_old SIGMOE_NEW_LIB=/tmp/lib_new Rscript bench/rescaled.R [--rounds=3]
#
# Run from the repository root; writes bench/rescaled.out.
args <- commandArgs(trailingOnly = TRUE)
if ("--child" %in% args) {
  source("bench/child.R")
  ns <- child_namespace(args)
  invisible(.Call(ns$C_blas_threads, 1L))
  data(mcycle, package = "MASS")
  cases <- list(
    "mcycle, linear, k = 3 (y scaled)" = list(x = mcycle$times, y = mcycle$accel, k = 3, e = "linear"),
    "cars, relu, k = 2 (y scaled)" = list(x = cars$speed, y = cars$dist, k = 2, e = "relu"),
    "faithful, linear, k = 2 (x scaled)" = list(x = faithful$waiting, y = faithful$eruptions, k = 2, e = "linear"),
    "years 1950-2020, linear, k = 2 (x centred)" = local({
      set.seed(1); yr <- seq(1950, 2020, length.out = 200)
      list(x = yr, y = ifelse(yr > 1990, 0.05 * (yr - 1990), 0) + rnorm(200, sd = 0.1), k = 2, e = "linear")
    }))
  out <- c()
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    set.seed(2)
    fit0 <- suppressWarnings(moe_fit(cs$x, cs$y, cs$k, expert = cs$e, nstart = 5))
    f <- function() suppressWarnings(moe_fit(cs$x, cs$y, cs$k, expert = cs$e, start = coef(fit0), nstart = 0))
    rec <- NULL
    orig <- ns$lsq_search
    unlockBinding("lsq_search", ns)
    assign("lsq_search", function(...) { rec <<- list(...); orig(...) }, envir = ns)
    f()
    assign("lsq_search", orig, envir = ns)
    N <- 300L
    t_fit <- system.time(for (i in seq_len(N)) f())[["elapsed"]] / N * 1e6
    t_c <- system.time(for (i in seq_len(N)) do.call(orig, rec))[["elapsed"]] / N * 1e6
    out[paste(nm, "fit")] <- t_fit
    out[paste(nm, "R")] <- t_fit - t_c
  }
  saveRDS(out, args[which(args == "--out") + 1L])
  quit(save = "no")
}
rounds <- as.integer(sub("--rounds=", "", grep("^--rounds=", args, value = TRUE)[1]))
if (is.na(rounds)) rounds <- 3L
libs <- c(old = Sys.getenv("SIGMOE_OLD_LIB"), new = Sys.getenv("SIGMOE_NEW_LIB"))
if (!all(nzchar(libs))) stop("set SIGMOE_OLD_LIB and SIGMOE_NEW_LIB")
res <- list()
for (r in seq_len(rounds)) {
  order <- if (r %% 2L) c("old", "new") else c("new", "old")
  for (v in order) {
    f <- tempfile(fileext = ".rds")
    system2(file.path(R.home("bin"), "Rscript"), c("bench/rescaled.R", "--child", libs[[v]], "--out", f))
    res[[v]] <- rbind(res[[v]], readRDS(f))
  }
}
con <- file("bench/rescaled.out", "w")
say <- function(...) { cat(sprintf(...), "\n", sep = ""); cat(sprintf(...), "\n", sep = "", file = con) }
say("sigmoe: moe_fit() on data the fit rescales, old against new (bench/rescaled.R)")
say("date:    %s", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"))
say("machine: nproc %d | %s | R %s | load %s", parallel::detectCores(),
    tryCatch(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1]), error = function(e) "?"),
    getRversion(), paste(readLines("/proc/loadavg", warn = FALSE), collapse = " "))
say("old:     %s\nnew:     %s\nrounds:  %d (child processes, alternating order)", libs[["old"]], libs[["new"]], rounds)
say("")
say("Median over rounds, microseconds per call: the whole moe_fit() (fit) and its R work, the fit minus")
say("its C search replayed alone (R); ratio new / old per round, median")
tab <- data.frame(part = colnames(res$old), old = apply(res$old, 2, stats::median),
                  new = apply(res$new, 2, stats::median),
                  ratio = apply(res$new / res$old, 2, stats::median), row.names = NULL)
tab$old <- round(tab$old); tab$new <- round(tab$new); tab$ratio <- round(tab$ratio, 2)
print(tab, row.names = FALSE)
utils::capture.output(print(tab, row.names = FALSE), file = con)
close(con)
