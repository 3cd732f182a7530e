#' Simulate data from a mixture of experts
#'
#' Draws \eqn{Y_i = f_G(X_i) + \epsilon_i} with \eqn{\epsilon_i \sim N(0, sd^2)}.
#'
#' @param params A [moe_params()] object (the truth).
#' @param n Number of observations, a whole number >= 1 (ignored when `x` is
#'   given).
#' @param sd Noise standard deviation, a number >= 0.
#' @param x Optional inputs (n x d matrix, or a vector when d = 1). The
#'   default draws each coordinate uniformly on \[-1, 1\].
#' @returns A data frame with columns `x1`, ..., `xd` and `y`.
#' @examples
#' truth <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                     b = c(0.5, 0), expert = "relu")
#' set.seed(1)
#' head(moe_simulate(truth, n = 100, sd = 0.1))
#' @export
moe_simulate <- function(params, n, sd, x = NULL) {
  check_params(params, "params")
  if (missing(sd)) abort_missing("sd", "the noise standard deviation, a number >= 0")
  sd <- check_number(sd, "sd", min = 0)
  if (is.null(x)) {
    if (missing(n)) abort_missing("n", "the number of observations, a whole number >= 1 (or give `x`)")
    n <- check_whole(n, "n", min = 1)
    x <- matrix(stats::runif(n * params$d, -1, 1), n, params$d)
  } else {
    x <- check_x_dim(x, params$d)
    n <- nrow(x)
  }
  colnames(x) <- paste0("x", seq_len(params$d))
  out <- as.data.frame(x)
  out$y <- model_eval(params, x) + stats::rnorm(n, 0, sd)
  out
}
