# Would variable projection cut the iterations of linear-expert fits, the
# study's slowest (issue 12)? For linear experts f is linear in the experts'
# parameters psi given the gates' beta, so psi can be solved exactly at every
# beta and a Levenberg-Marquardt run on beta alone with the Kaufman Jacobian
# (I - P_Phi) J_beta, where Phi = df/dpsi. This probe does that in plain R on
# cells of bench/study.R's design and compares accepted steps and final SSEs
# with the package's LM (the study's own fits, replayed). It measures
# iterations, not time; the solver it probes is not in the package.
#
#   Rscript bench/varpro.R            (writes bench/varpro.out; SIGMOE_LIB as elsewhere)
lib <- Sys.getenv("SIGMOE_LIB")
if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
suppressPackageStartupMessages(library(sigmoe))

truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1.5, -1), b = c(0.3, 0.2), gating = "softmax", expert = "relu")
ns <- c(1000, 10000, 100000)
st <- convergence_study(truth, n = ns, reps = 6, k = 3, gating = c("sigmoid", "softmax"), expert = "linear",
                        sd = 0.1, seed = 20240513, init = "near_truth", progress = FALSE)
jac <- function(p, th, x) .Call(sigmoe:::C_model_jacobian, sigmoe:::params_spec(p), th, x, 1L)
feval <- function(p, th, x) sigmoe:::model_eval_theta(sigmoe:::params_spec(p), th, x)
varpro <- function(p0, x, y, maxit = 200, ftol = 1e-8, xtol = 1e-8) {
  lay <- sigmoe:::params_layout(p0); lin <- lay$block %in% c("a", "b"); th <- unname(sigmoe:::params_theta(p0))
  solve_lin <- function(th) tryCatch(solve_lin0(th), error = function(e) list(sse = Inf))
  solve_lin0 <- function(th) {
    J <- jac(p0, th, x); Phi <- J[, lin, drop = FALSE]; q <- qr(Phi)
    psi <- qr.coef(q, y); psi[is.na(psi)] <- 0; th[lin] <- psi
    r <- y - feval(p0, th, x)
    Jb <- jac(p0, th, x)[, !lin, drop = FALSE]; Jr <- Jb - qr.fitted(q, Jb)
    list(th = th, r = r, sse = sum(r^2), Jr = Jr)
  }
  cur <- solve_lin(th); lam <- 1e-3; nu <- 2; it <- 0; ev <- 1; code <- -1
  while (it < maxit) {
    A <- crossprod(cur$Jr); g <- drop(crossprod(cur$Jr, cur$r)); D <- pmax(diag(A), 1e-10 * max(diag(A)))
    repeat {
      d <- tryCatch(solve(A + lam * diag(D), g), error = function(e) NULL)
      if (is.null(d)) { lam <- lam * nu; nu <- nu * 2; if (lam > 1e16) break; next }
      th2 <- cur$th; th2[!lin] <- th2[!lin] + d
      new <- solve_lin(th2); ev <- ev + 1
      pred <- sum(d * (g + lam * D * d)); act <- cur$sse - new$sse
      if (is.finite(new$sse) && act > 0 && pred > 0) {
        rho <- act / pred; t <- 2 * rho - 1; lam <- lam * max(1/3, 1 - t^3); nu <- 2
        step <- sqrt(sum(d^2)); size <- sqrt(sum(cur$th^2)); old <- cur$sse; cur <- new; it <- it + 1
        if (act <= ftol * old && pred <= ftol * old) code <- 1 else if (step <= xtol * (size + xtol)) code <- 2
        break
      } else { lam <- lam * nu; nu <- nu * 2; if (lam > 1e16) { code <- 5; break } }
    }
    if (code != -1) break
  }
  list(sse = cur$sse, it = it, ev = ev, code = code, theta = cur$th)
}
rows <- list()
for (g in c("sigmoid", "softmax")) for (n in ns) for (r in 1:6) {
  cell <- study_replay(st, gating = g, n = n, rep = r)
  d <- cell$data; x <- as.matrix(d[, grep("^x", names(d)), drop = FALSE]); y <- d$y
  t1 <- system.time(v <- varpro(cell$start, x, y))[[3]]
  rows[[length(rows) + 1]] <- data.frame(g = g, n = n, rep = r, lm_it = cell$result$iterations, lm_code = cell$result$code,
    lm_sse = cell$fit$sse, vp_it = v$it, vp_ev = v$ev, vp_code = v$code, vp_sse = v$sse, rel = v$sse / cell$fit$sse - 1,
    at_bound = cell$result$at_bound)
}
tab <- do.call(rbind, rows)
sink("bench/varpro.out", split = TRUE)
cat("sigmoe: variable projection for linear experts, a probe in plain R (bench/varpro.R)\n")
cat("date:    ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"), "\n")
cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
cat(sprintf("machine:  %s x%d | sigmoe %s from %s\n", trimws(sub("^model name\\s*:", "", cpu[1])),
            length(cpu), as.character(utils::packageVersion("sigmoe")), dirname(find.package("sigmoe"))))
cat("cells:    bench/study.R's truth, linear experts, k = 3, both gates, n = 1e3, 1e4, 1e5, 6 replicates;",
    "\n          the study's near-truth start for both solvers; iterations are accepted steps,",
    "\n          VP evaluations are trial points (two Jacobian passes and a QR each). The VP",
    "\n          probe has no box (at_bound = 1: the study's fit ended at a bound).\n\n")
print(tab, digits = 4, row.names = FALSE)
cat(sprintf("\nmean iterations: LM %.1f, VP %.1f (VP trial points %.1f); median LM %.0f, VP %.1f\n",
            mean(tab$lm_it), mean(tab$vp_it), mean(tab$vp_ev), stats::median(tab$lm_it),
            stats::median(tab$vp_it)))
free <- tab$at_bound == 0
cat(sprintf("cells without a bound: VP's SSE lower in %d of %d, higher in %d; VP stopped on xtol within 2 iterations in %d cells\n",
            sum(tab$rel[free] < -1e-9), sum(free), sum(tab$rel[free] > 1e-9),
            sum(tab$vp_code == 2 & tab$vp_it <= 2)))
sink()
