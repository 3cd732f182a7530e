# The gate x expert cases and the random parameters the tests run over.

gatings <- c("sigmoid", "softmax", "normalized_sigmoid")

# Every expert, the polynomial with an even and an odd degree.
expert_cases <- list(
  list(expert = "linear"), list(expert = "relu"), list(expert = "gelu"),
  list(expert = "sigmoid"), list(expert = "tanh"), list(expert = "polynomial", degree = 2L),
  list(expert = "polynomial", degree = 3L), list(expert = "constant")
)
case_label <- function(gating, cs, d) {
  ex <- if (is.null(cs$degree)) cs$expert else sprintf("polynomial %d", cs$degree)
  sprintf("%s gate, %s experts, d = %d", gating, ex, d)
}

# Random raw parameters (a list, for the plain-R references) of a k-expert
# model; the reference expert's gate row is zero and the constant expert has no
# slopes.
random_raw <- function(k, d, gating, expert, beta1_sd = 1.5, b_sd = 0.5) {
  raw <- list(beta0 = rnorm(k), beta1 = matrix(rnorm(k * d, sd = beta1_sd), k, d),
              a = matrix(rnorm(k * d), k, d), b = rnorm(k, sd = b_sd))
  if (ref_reference(gating, k)) {
    raw$beta0[k] <- 0
    raw$beta1[k, ] <- 0
  }
  if (expert == "constant") raw$a <- NULL
  raw
}
as_params <- function(raw, gating, cs) {
  moe_params(raw$beta0, raw$beta1, raw$a, raw$b, gating = gating, expert = cs$expert,
             degree = cs$degree)
}

# A random mixing measure; `scale` is the spread of the gate parameters.
random_params <- function(k, d, gating, expert, scale = 1) {
  beta0 <- rnorm(k, 0, scale)
  beta1 <- matrix(rnorm(k * d, 0, scale), k, d)
  if (ref_reference(gating, k)) {
    beta0[k] <- 0
    beta1[k, ] <- 0
  }
  a <- if (expert == "constant") NULL else matrix(rnorm(k * d), k, d)
  moe_params(beta0, beta1, a, rnorm(k), gating = gating, expert = expert,
             degree = if (expert == "polynomial") 2 else NULL)
}
