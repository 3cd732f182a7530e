# Digest of sigmoe kernel outputs for bench/clones.sh:
#   Rscript bench/clones-digest.R LIB OUT.rds fits|nofits
# model values, Jacobians, gates, experts and a study's built-in losses for
# every gate x expert at random parameters (gate slopes up to |z| ~ 1000),
# and with "fits" a short fit of each.
lib <- commandArgs(TRUE)[1]; out <- commandArgs(TRUE)[2]; fits <- commandArgs(TRUE)[3] == "fits"
.libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))
set.seed(11)
res <- list()
for (g in c("sigmoid", "softmax", "normalized_sigmoid")) for (e in c("linear","relu","gelu","sigmoid","tanh","polynomial","constant")) {
  k <- 3; d <- 2
  p <- moe_params(beta0 = c(rnorm(2, sd = 3), if (g == "softmax") 0 else rnorm(1)), beta1 = rbind(matrix(rnorm(4, sd = 5), 2), if (g == "softmax") 0 else rnorm(2, sd = 300)),
                  a = if (e == "constant") NULL else matrix(rnorm(6, sd = 3), 3), b = rnorm(3), gating = g, expert = e, degree = if (e == "polynomial") 3 else NULL)
  x <- matrix(c(runif(2 * 2000, -1, 1), -3, 3, 1e-3, -1e-3), ncol = 2)
  y <- moe_mean(p, x) + rnorm(nrow(x), sd = 0.1)
  key <- paste(g, e)
  res[[key]] <- list(mean = moe_mean(p, x), jac = moe_jacobian(p, x), gates = moe_gates(p, x), experts = moe_experts(p, x))
  # a study's built-in losses of a shifted measure against p (no draws)
  q <- p; q$b <- q$b + 0.1
  res[[key]]$losses <- sigmoe:::study_losses(list(list(sigmoe:::params_spec(q), unname(sigmoe:::params_theta(q)))),
                                             list(sigmoe:::study_loss_target(p, p, g)), x, moe_mean(p, x),
                                             c("voronoi", "expert_error", "l2"))
  if (fits) res[[key]]$fit <- sigmoe:::params_theta(coef(moe_fit(x, y, k = 3, gating = g, expert = e, degree = if (e == "polynomial") 3 else NULL, nstart = 2, control = moe_control(maxit = 50))))
}
saveRDS(res, out)
