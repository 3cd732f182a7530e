#' The regression function of a mixture of experts
#'
#' `moe_mean()` evaluates \eqn{f_G(x) = \sum_i g_i(x) h(x, \eta_i)}{f_G(x) = sum_i g_i(x) h(x, eta_i)} at
#' the rows of `x`; `moe_jacobian()` gives its derivatives with respect to the
#' free parameters (analytic, from the C core).
#'
#' The columns of the Jacobian follow the order of the free parameters, expert
#' by expert: `beta0[i]`, `beta1[i,1..d]` (absent for the softmax reference
#' expert k), `a[i,1..d]` (absent for the constant expert), `b[i]`. The
#' column names give this order and the attribute `"coef"` repeats them.
#' The fit ([moe_fit()]) never forms this n x P matrix; it accumulates
#' \eqn{J^\top J} over blocks of rows instead.
#'
#' @inheritParams moe_gates
#' @returns `moe_mean()`: a numeric vector of length n. `moe_jacobian()`: an
#'   n x P matrix.
#' @examples
#' p <- moe_params(beta0 = c(-1, 1), beta1 = c(2, -2), a = c(1, -1),
#'                 b = c(0.5, 0), expert = "relu")
#' x <- seq(-1, 1, by = 0.5)
#' moe_mean(p, x)
#' moe_jacobian(p, x)
#' @export
moe_mean <- function(params, x) {
  check_params(params, "params")
  x <- check_x_dim(x, params$d)
  .Call(C_model_eval, params_spec(params), params_theta(params), x, FALSE, 1L)
}

#' @rdname moe_mean
#' @export
moe_jacobian <- function(params, x) {
  check_params(params, "params")
  x <- check_x_dim(x, params$d)
  theta <- params_theta(params)
  J <- .Call(C_model_jacobian, params_spec(params), theta, x, 1L)
  colnames(J) <- names(theta)
  attr(J, "coef") <- names(theta)
  J
}

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
  sd <- check_number(sd, "sd", min = 0)
  if (is.null(x)) {
    n <- check_whole(n, "n", min = 1)
    x <- matrix(stats::runif(n * params$d, -1, 1), n, params$d)
  } else {
    x <- check_x_dim(x, params$d)
    n <- nrow(x)
  }
  colnames(x) <- paste0("x", seq_len(params$d))
  f <- .Call(C_model_eval, params_spec(params), params_theta(params), x, FALSE, 1L)
  out <- as.data.frame(x)
  out$y <- f + stats::rnorm(n, 0, sd)
  out
}
