# Independent references shared by the test files (testthat loads helper-*.R
# before the tests).

# f_G(x) = sum_i g_i(x) h(a_i'x + b_i), written from SPEC section 1 in plain R
# from the raw parameter values (not from the package's object).
ref_mean <- function(raw, x, gating, expert, degree = NULL) {
  x <- as.matrix(x)
  k <- length(raw$beta0)
  z <- sapply(seq_len(k), function(i) raw$beta0[i] + drop(x %*% raw$beta1[i, ]))
  z <- matrix(z, nrow(x), k)
  g <- switch(gating,
    sigmoid = 1 / (1 + exp(-z)),
    softmax = exp(z) / rowSums(exp(z)),
    normalized_sigmoid = (1 / (1 + exp(-z))) / rowSums(1 / (1 + exp(-z))))
  h <- sapply(seq_len(k), function(i) {
    t <- if (expert == "constant") rep(raw$b[i], nrow(x)) else raw$b[i] + drop(x %*% raw$a[i, ])
    switch(expert,
      linear = t, relu = pmax(t, 0), gelu = t * stats::pnorm(t), sigmoid = 1 / (1 + exp(-t)),
      tanh = tanh(t), polynomial = t^degree, constant = t)
  })
  h <- matrix(h, nrow(x), k)
  rowSums(g * h)
}
