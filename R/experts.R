#' Expert outputs of a mixture of experts
#'
#' The output \eqn{h(a_i^\top x + b_i)} of every expert at every row of `x`,
#' before gating.
#'
#' @inheritParams moe_gates
#' @returns An n x k matrix of expert outputs.
#' @examples
#' p <- moe_params(beta0 = c(0, 0), beta1 = c(1, -1), a = c(1, -1), b = c(0, 0.5),
#'                 expert = "gelu")
#' moe_experts(p, c(-1, 0, 1))
#' @export
moe_experts <- function(params, x) {
  model_components(params, x)$experts
}

# h(t) (deriv = FALSE) or h'(t) (deriv = TRUE) elementwise, by the C kernels.
expert_eval <- function(t, expert, degree = NULL, deriv = FALSE) {
  storage.mode(t) <- "double"
  .Call(C_expert_eval, expert_code(expert), if (is.null(degree)) 0L else as.integer(degree),
        t, deriv)
}
