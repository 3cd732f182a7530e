# A strategy for bench/multistart.R --wide (--strategy=bench/strategy-varpro.R):
# the linear-expert fits of the --wide set only (mcycle, k = 1 to 4, seeds
# 1-15), against a reference that is the best of 200 data-driven starts with
# each solver (the default Levenberg-Marquardt and variable projection); the
# default search runs with moe_control(varpro = TRUE) when the environment
# variable SIGMOE_VARPRO is "true", with the default solver otherwise. So the
# two solvers' default searches are judged against the same reference.
#
#   SIGMOE_VARPRO=true  Rscript bench/multistart.R --wide --strategy=bench/strategy-varpro.R \
#     --out=bench/multistart-wide-varpro.out
#   SIGMOE_VARPRO=false Rscript bench/multistart.R --wide --strategy=bench/strategy-varpro.R \
#     --out=bench/multistart-wide-lm.out
problems <- Filter(function(p) identical(p$expert, "linear"), problems)
use_varpro <- identical(Sys.getenv("SIGMOE_VARPRO"), "true")
reference_sse <- function(p) {
  best <- Inf
  for (vp in c(FALSE, TRUE)) {
    set.seed(1000 + p$seed)
    best <- min(best, fit_problem(p, nstart = 200L, control = moe_control(varpro = vp))$sse)
  }
  best
}
default_fit <- function(p) {
  set.seed(p$seed)
  t <- system.time(f <- fit_problem(p, control = moe_control(varpro = use_varpro)))[["elapsed"]]
  list(sse = f$sse, seconds = t, starts = nrow(f$starts))
}
