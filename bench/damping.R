# The damping scale of the Levenberg-Marquardt steps, measured (issue 12).
#
# sigmoe's solver solves (A + lambda D) delta = g with A = J'J. Three classic
# choices of the diagonal D:
#   diag   D = diag(A) of the current iteration (Marquardt; sigmoe's default)
#   max    D_j = the largest A_jj seen so far in the fit (MINPACK's lmder,
#          mode 1, whose scale is the running maximum of the column norms)
#   ident  D = I (Levenberg)
# and, beside them, the package's trust-region steps (moe_control(trust =
# TRUE): MINPACK's scale, Moré's step bound and lmpar's rules for lambda,
# src/trust.c), with sigmoe's tolerances and with nls.lm's (trust_mp).
# On the small-n problem of bench/fit.R (sigmoid gate, ReLU experts, d = 1,
# k* = 2, k = 3, n = 1e3, the same fixed start, maxit = 1000) over seeds 1 to
# 212 (fixed before the run), each choice is compared with nls.lm from the
# same start: where each ends (SSE below nls.lm's, the median relative SSE
# difference with its distribution-free 95% CI, paired counts against `diag`,
# the same minimum as nls.lm's) and in how many iterations. nls.lm (MINPACK, default tolerances,
# maxiter = 1000) gets the residuals and Jacobian of sigmoe's own model
# functions (moe_mean(), moe_jacobian()), so the comparison is of the steps
# alone. nls.lm is also run with forward-difference derivatives, to see how
# often MINPACK's own path, with derivatives that differ only by their
# rounding and truncation, ends in the same minimum.
#
# `max` and `ident` are not options of the package: this script builds them
# from the repository's source, with the line of src/lsq.c that computes D
# followed by the variant's rule, into private libraries, and runs each in a
# child process. Run from the repository root:
#
#   Rscript bench/damping.R > bench/damping.out      (about 2 minutes)
args <- commandArgs(trailingOnly = TRUE)
seeds <- 1:212

# ---- child: one variant's fits -------------------------------------------------

if (length(args) >= 3L && args[1L] == "--child") {
  .libPaths(c(args[2L], .libPaths()))
  suppressPackageStartupMessages(library(sigmoe))
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                      gating = "sigmoid", expert = "relu")
  start <- moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5), a = c(0.8, 1.3, -0.8),
                      b = c(0.1, 0.3, 0.3), gating = "sigmoid", expert = "relu")
  with_lm <- "--nls.lm" %in% args
  # --mptol: MINPACK's stopping tolerances (nls.lm's defaults: ftol = ptol =
  # sqrt(eps), no gradient test) instead of sigmoe's
  tol <- if ("--mptol" %in% args) list(ftol = sqrt(.Machine$double.eps), xtol = sqrt(.Machine$double.eps), gtol = 0)
  ctl <- do.call(moe_control, c(list(maxit = 1000, trust = "--trust" %in% args), tol))
  theta0 <- sigmoe:::params_theta(start)
  at <- function(theta) sigmoe:::theta_params(theta, start)
  rows <- lapply(seeds, function(seed) {
    set.seed(seed)
    d <- moe_simulate(truth, n = 1e3, sd = 0.05)
    x <- matrix(d$x1, ncol = 1L)
    fit <- suppressWarnings(moe_fit(x, d$y, k = 3, start = start, nstart = 0,
                                    control = ctl))
    row <- data.frame(seed = seed, it = fit$convergence$iterations, sse = fit$sse,
                      conv = fit$convergence$converged)
    if (with_lm) {
      lm <- minpack.lm::nls.lm(unname(theta0), fn = function(th) d$y - moe_mean(at(th), x),
                               jac = function(th) -moe_jacobian(at(th), x),
                               control = minpack.lm::nls.lm.control(maxiter = 1000))
      row$lm_it <- lm$niter
      row$lm_sse <- sum(lm$fvec^2)
      # MINPACK against itself: the same steps with forward-difference
      # derivatives, whose rounding differs from the analytic Jacobian's
      fd <- minpack.lm::nls.lm(unname(theta0), fn = function(th) d$y - moe_mean(at(th), x),
                               control = minpack.lm::nls.lm.control(maxiter = 1000))
      row$fd_it <- fd$niter
      row$fd_sse <- sum(fd$fvec^2)
    }
    row
  })
  saveRDS(do.call(rbind, rows), args[3L])
  quit(save = "no")
}

# ---- parent: build the variants, run them, report ------------------------------

say <- function(...) cat(sprintf(...), "\n", sep = "")
work <- tempfile("damping")
dir.create(work)
anchor <- "        if (lm_scaling(A, P, D) <= 0.0) { code = MOE_LSQ_GTOL; break; }"
rules <- list(
  diag = NULL,
  max = c("        for (int j = 0; j < P; j++) { if (iter > 0 && Dmax[j] > D[j]) D[j] = Dmax[j]; Dmax[j] = D[j]; }"),
  ident = c("        for (int j = 0; j < P; j++) D[j] = 1.0;"))
src_files <- c("DESCRIPTION", "NAMESPACE", list.files("R", full.names = TRUE),
               list.files("src", full.names = TRUE))
src_files <- src_files[!grepl("\\.(o|so|dll)$", src_files)]
build <- function(name) {
  dir <- file.path(work, name, "pkg")
  lib <- file.path(work, name, "lib")
  dir.create(file.path(dir, "R"), recursive = TRUE)
  dir.create(file.path(dir, "src"))
  dir.create(lib)
  file.copy(src_files, file.path(dir, src_files))
  if (!is.null(rules[[name]])) {
    f <- file.path(dir, "src", "lsq.c")
    code <- readLines(f)
    at <- which(code == anchor)
    if (length(at) != 1L) stop("src/lsq.c: the line that computes D was not found once")
    code <- append(code, rules[[name]], after = at)
    # the running maximum's storage, beside D's
    decl <- which(grepl("double \\*D = \\(double \\*\\) R_alloc\\(P, sizeof\\(double\\)\\);", code))
    if (length(decl) != 1L) stop("src/lsq.c: D's allocation was not found once")
    code <- append(code, "    double *Dmax = (double *) R_alloc(P, sizeof(double));", after = decl)
    writeLines(code, f)
  }
  out <- system2(file.path(R.home("bin"), "R"),
                 c("CMD", "INSTALL", "--no-test-load", "-l", shQuote(lib), shQuote(dir)),
                 stdout = TRUE, stderr = TRUE)
  if (!is.null(attr(out, "status"))) stop("building ", name, " failed:\n", paste(out, collapse = "\n"))
  lib
}
libs <- lapply(stats::setNames(names(rules), names(rules)), build)
# trust: the package's own option, moe_control(trust = TRUE), in the
# unchanged build; trust_mp: the same with nls.lm's stopping tolerances
runs <- list(diag = c(libs$diag, "--nls.lm"), max = libs$max, ident = libs$ident,
             trust = c(libs$diag, "--trust"), trust_mp = c(libs$diag, "--trust", "--mptol"))
results <- lapply(stats::setNames(names(runs), names(runs)), function(name) {
  rds <- file.path(work, paste0(name, ".rds"))
  status <- system2(file.path(R.home("bin"), "Rscript"),
                    c("bench/damping.R", "--child", shQuote(runs[[name]][1L]), shQuote(rds),
                      runs[[name]][-1L]))
  if (status != 0L) stop("the run of ", name, " failed")
  readRDS(rds)
})

lm <- results$diag[, c("seed", "lm_it", "lm_sse")]
say("sigmoe damping scales and trust region (bench/damping.R), %s", format(Sys.time(), "%Y-%m-%d %H:%M %Z"))
say("machine: %s; %d cores; R %s; sigmoe %s at %s", Sys.info()[["nodename"]], parallel::detectCores(),
    getRversion(), utils::packageDescription("sigmoe", lib.loc = file.path(work, "diag", "lib"))$Version,
    tryCatch(system2("git", c("rev-parse", "--short", "HEAD"), stdout = TRUE), error = function(e) "?"))
say("problem: bench/fit.R's small-n fit (sigmoid gate, ReLU experts, d = 1, k* = 2, k = 3, n = 1e3,")
say("         its fixed start, maxit = 1000), seeds %d to %d; nls.lm: MINPACK, default tolerances", min(seeds), max(seeds))
say("")
say("%-8s %-22s %-31s %-15s %s", "steps", "SSE below nls.lm's", "median rel. SSE diff (95% CI)",
    "vs diag: lo/hi", "iterations: median, mean; max; <= nls.lm's; at 1000")
for (name in names(results)) {
  r <- results[[name]]
  if (!identical(r$seed, lm$seed)) stop("the runs do not cover the same seeds")
  rel <- (r$sse - lm$lm_sse) / lm$lm_sse
  below <- sum(r$sse < lm$lm_sse * (1 - 1e-9))
  ci <- stats::binom.test(below, nrow(r))$conf.int
  # the median and its distribution-free 95% CI (binomial order statistics)
  srt <- sort(rel)
  j <- max(1L, stats::qbinom(0.025, length(srt), 0.5))
  w <- list(estimate = stats::median(rel), conf.int = c(srt[j], srt[length(srt) + 1L - j]))
  base <- results$diag$sse
  say("%-8s %3d of %d (%2.0f%%-%2.0f%%)  %+.1e (%+.1e, %+.1e)   %3d / %3d       %5.1f, %5.1f; %4d; %3d; %d",
      name, below, nrow(r), 100 * ci[1], 100 * ci[2], w$estimate, w$conf.int[1], w$conf.int[2],
      sum(r$sse < base * (1 - 1e-9)), sum(r$sse > base * (1 + 1e-9)),
      stats::median(r$it), mean(r$it), max(r$it), sum(r$it <= lm$lm_it), sum(r$it >= 1000))
}
say("%-8s %-22s %-31s %-15s %5.1f, %5.1f; %4d", "nls.lm", "", "", "",
    stats::median(lm$lm_it), mean(lm$lm_it), max(lm$lm_it))
say("")
say("The same minimum as nls.lm (SSE within 1e-6 relative), and otherwise lower / higher; iterations")
say("equal to nls.lm's where the minimum is the same:")
for (name in names(results)) {
  r <- results[[name]]
  same <- abs(r$sse / lm$lm_sse - 1) <= 1e-6
  say("  %-8s same in %3d of %d, lower in %3d, higher in %3d; iterations equal in %3d of those %3d",
      name, sum(same), nrow(r), sum(!same & r$sse < lm$lm_sse), sum(!same & r$sse > lm$lm_sse),
      sum(same & r$it == lm$lm_it), sum(same))
}
fd <- results$diag
same <- abs(fd$fd_sse / fd$lm_sse - 1) <= 1e-6
say("nls.lm with forward-difference derivatives against nls.lm with the analytic Jacobian, from the")
say("same start: the same SSE (within 1e-6 relative) in %d of %d data sets, lower in %d, higher in %d;",
    sum(same), nrow(fd), sum(!same & fd$fd_sse < fd$lm_sse), sum(!same & fd$fd_sse > fd$lm_sse))
say("iterations equal in %d; its iterations median %.1f, mean %.1f", sum(fd$fd_it == fd$lm_it),
    stats::median(fd$fd_it), mean(fd$fd_it))
say("")
say("SSE below: by more than 1e-9 relative, with the exact binomial 95%% CI; vs diag: data sets where the")
say("scale ends lower / higher than the default by more than 1e-9 relative (paired, same data and start).")
say("First 12 seeds (bench/fit.R's timed data sets), iterations and SSE:")
first <- data.frame(seed = lm$seed, lm_it = lm$lm_it, lm_sse = signif(lm$lm_sse, 6))
for (name in names(results)) {
  first[[paste0(name, "_it")]] <- results[[name]]$it
  first[[paste0(name, "_sse")]] <- signif(results[[name]]$sse, 6)
}
print(utils::head(first, 12L), row.names = FALSE)
unlink(work, recursive = TRUE)
