# The regression function f_G and its Jacobian, evaluated by the C model over
# row blocks (src/model.c). Every evaluation of f_G in the package goes
# through model_eval() (or model_eval_theta(), from a kept structure and theta).

# f_G at the rows of x, and with components = TRUE also the n x k gates and
# experts, in one pass of the C model. `x` is a checked double matrix with
# the model's d columns; results do not depend on `threads`.
model_eval <- function(params, x, components = FALSE, threads = 1L) {
  out <- model_eval_theta(params_spec(params), params_theta(params), x, components, threads)
  if (components)
    colnames(out$gates) <- colnames(out$experts) <- paste0("expert", seq_len(params$k))
  out
}

# The same from the structure (params_spec()) and theta, for callers that
# keep them (a study's plans): the one call of the C model.
model_eval_theta <- function(spec, theta, x, components = FALSE, threads = 1L) {
  .Call(C_model_eval, spec, theta, x, components, threads)
}

# f, gates and experts at unchecked inputs x.
model_components <- function(params, x, arg = "x") {
  check_params(params, "params")
  out <- model_eval(params, check_x_dim(x, params$d, arg), components = TRUE)
  check_model_finite(out$f, arg)
  check_model_finite(out$gates, arg)
  check_model_finite(out$experts, arg)
  out
}

# Values of the model at user inputs must be numbers: inputs so large that a
# linear predictor leaves the range of double precision make gates or experts
# infinite and their products NaN, which is an error naming the input, never
# a silent NaN.
check_model_finite <- function(v, arg) {
  bad <- first_nonfinite(v)
  if (bad > 0) {
    n <- NROW(v)
    stop(sprintf(paste0("`%s` is too large for the model's parameters: at row %d a gate's or an ",
                        "expert's linear predictor leaves the range of double precision, so the ",
                        "model is not finite there; rescale the inputs."), arg, (bad - 1) %% n + 1),
         call. = FALSE)
  }
  invisible(v)
}

# Rows per block of the C model for n rows and npar free parameters, so that
# the tests can straddle the blocks the C code really uses.
model_block_rows <- function(n, npar) {
  .Call(C_model_block_rows, as.integer(n), as.integer(npar))
}

#' The regression function of a mixture of experts
#'
#' `moe_mean()` evaluates \eqn{f_G(x) = \sum_i g_i(x) h(x, \eta_i)}{f_G(x) = sum_i g_i(x) h(x, eta_i)} at
#' the rows of `x`; `moe_jacobian()` gives its derivatives with respect to the
#' free parameters (analytic, from the C core).
#'
#' The columns of the Jacobian follow the order of the free parameters, expert
#' by expert: `beta0[i]`, `beta1[i,1..d]` (absent for the softmax reference
#' expert k and for the one expert of a normalized sigmoid gate),
#' `a[i,1..d]` (absent for the constant expert), `b[i]`. The
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
  f <- check_model_finite(model_eval(params, check_x_dim(x, params$d)), "x")
  f
}

#' @rdname moe_mean
#' @export
moe_jacobian <- function(params, x) {
  check_params(params, "params")
  x <- check_x_dim(x, params$d)
  theta <- params_theta(params)
  J <- check_model_finite(.Call(C_model_jacobian, params_spec(params), theta, x, 1L), "x")
  colnames(J) <- names(theta)
  attr(J, "coef") <- names(theta)
  J
}
