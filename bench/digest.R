# Digest of sigmoe's numbers, to check that a change of structure changes no
# result: model values, Jacobians, gates and experts and a multi-start fit for
# all 21 gate x expert pairs, the Voronoi loss and expert error of each fit,
# and one small convergence study (all columns but the timings).
#
#   Rscript bench/digest.R LIB OUT.rds      # digest of the sigmoe installed in LIB
#   Rscript bench/digest.R --compare A.rds B.rds
#
# Two installs are compared by running the first form for each and then the
# second: it prints which entries differ, and exits non-zero if any does.
args <- commandArgs(trailingOnly = TRUE)
if (identical(args[1], "--compare")) {
  a <- readRDS(args[2]); b <- readRDS(args[3])
  keys <- union(names(a), names(b))
  same <- vapply(keys, function(k) identical(a[[k]], b[[k]]), logical(1))
  cat(sprintf("%d entries, %d identical\n", length(keys), sum(same)))
  if (!all(same)) {
    cat("differ:", paste(keys[!same], collapse = ", "), "\n")
    quit(status = 1L)
  }
  quit(status = 0L)
}
lib <- args[1]; out <- args[2]
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))
res <- list()
set.seed(11)
for (g in c("sigmoid", "softmax", "normalized_sigmoid"))
  for (e in c("linear", "relu", "gelu", "sigmoid", "tanh", "polynomial", "constant")) {
    k <- 3; d <- 2
    deg <- if (e == "polynomial") 3 else NULL
    p <- moe_params(beta0 = c(rnorm(2), if (g == "softmax") 0 else rnorm(1)),
                    beta1 = rbind(matrix(rnorm(4, sd = 2), 2), if (g == "softmax") 0 else rnorm(2)),
                    a = if (e == "constant") NULL else matrix(rnorm(6), 3), b = rnorm(3),
                    gating = g, expert = e, degree = deg)
    x <- matrix(runif(2 * 1500, -1, 1), ncol = 2)
    y <- moe_mean(p, x) + rnorm(nrow(x), sd = 0.1)
    fit <- moe_fit(x, y, k = 3, gating = g, expert = e, degree = deg, nstart = 3,
                   control = moe_control(maxit = 60))
    key <- paste(g, e)
    res[[paste(key, "model")]] <- list(mean = moe_mean(p, x), jac = unclass(moe_jacobian(p, x)),
                                       gates = moe_gates(p, x), experts = moe_experts(p, x))
    res[[paste(key, "fit")]] <- list(theta = fit$theta, sse = fit$sse, conv = fit$convergence,
                                     starts = fit$starts, jtj = fit$jtj,
                                     fitted = fit$fitted.values)
    res[[paste(key, "losses")]] <- list(
      voronoi = as.numeric(voronoi_loss(fit, p)),
      expert = as.numeric(expert_error(fit, p)))
  }
truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "softmax", expert = "relu")
st <- convergence_study(truth, n = c(300, 600), reps = 3, k = 3, expert = c("relu", "linear"),
                        sd = 0.1, seed = 5, progress = FALSE)
r <- as.data.frame(st)
r$seconds <- NULL
res[["study"]] <- r
saveRDS(res, out)
cat(sprintf("wrote %d entries to %s\n", length(res), out))
