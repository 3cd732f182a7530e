#' Gate values of a mixture of experts
#'
#' The gate of each expert at each row of `x`: \eqn{g_i(x)} computed from
#' \eqn{z_i(x) = \beta_{1i}^\top x + \beta_{0i}}{z_i(x) = beta1_i'x + beta0_i}
#' by the sigmoid (split form, never overflows), the softmax (row maximum
#' subtracted) or the normalized sigmoid.
#'
#' @param params A [moe_params()] object.
#' @param x Inputs: an n x d numeric matrix, or a vector when d = 1.
#' @returns An n x k matrix of gate values.
#' @examples
#' p <- moe_params(beta0 = c(0, 0), beta1 = c(4, 0), a = c(1, 1), b = c(0, 0),
#'                 gating = "softmax", expert = "linear")
#' moe_gates(p, c(-1, 0, 1))
#' @export
moe_gates <- function(params, x) {
  model_components(params, x)$gates
}
