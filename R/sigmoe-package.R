#' sigmoe: least-squares mixture-of-experts regression with sigmoid and softmax gating
#'
#' Fits mixture-of-experts regression functions by least squares with a C
#' core (gates, experts, analytic Jacobians and a Levenberg-Marquardt solver
#' over BLAS/LAPACK) and measures how fast the estimator recovers the experts,
#' as in Nguyen, Ho and Rinaldo (2024a, 2024b).
#'
#' @references
#' Nguyen, H., Ho, N. and Rinaldo, A. (2024a). Sigmoid gating is more sample
#' efficient than softmax gating in mixture of experts. NeurIPS 2024.
#' arXiv:2405.13997.
#'
#' Nguyen, H., Ho, N. and Rinaldo, A. (2024b). On least squares estimation in
#' softmax gating mixture of experts. ICML 2024. arXiv:2402.02952.
#' @keywords internal
#' @useDynLib sigmoe, .registration = TRUE
"_PACKAGE"
