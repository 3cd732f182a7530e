# The coordinates a fit works in. The solver's stopping rules and the
# conditioning of J'J depend on the location and scale of x and y: inputs
# shifted far from 0 make every gate's intercept and slope columns nearly
# collinear, and inputs of size 1e300 or 1e-8 put J'J out of range. So the
# fit centres and scales x, and scales y, maps the starts and the box into
# those coordinates, and maps the solution back (exactly for the scales,
# which are powers of two; to rounding of the size |centre| eps for a centre).
# The fitted values of a centred fit are computed in its own coordinates, so
# that they and the residuals keep the precision of the SSE (new_moe_fit()).
#
# - An input column is centred at its mean when the mean is more than
#   `center_ratio` standard deviations from 0 (only then are the intercept and
#   slope nearly collinear), and only when the box leaves every beta0 and b
#   free: a box on the intercepts in the original coordinates is not a box
#   after centring.
# - An input column is scaled by a power of two near its standard deviation
#   when that is outside [1/16, 16]; y by a power of two near its root mean
#   square when that is outside [1/16, 16], and only for the experts where a
#   scale of the output is a scale of the parameters (positively homogeneous:
#   linear, ReLU, polynomial, constant). Powers of two make both maps exact
#   in floating point, and a box maps to a box.
# Data of ordinary size are left as they are, so the fit is unchanged there.

scaling_center_ratio <- 4
scaling_range <- c(1 / 16, 16)

# The nearest power of two to v, or 1 when v is in the ordinary range (or is
# not a positive finite number); for the polynomial expert the exponent is a
# multiple of its degree, so that the p-th root is a power of two too.
power_of_two_scale <- function(v, multiple = 1L) {
  ok <- is.finite(v) & v > 0
  out <- rep(1, length(v))
  far <- ok & (v < scaling_range[1L] | v > scaling_range[2L])
  if (!any(far)) return(out)
  e <- multiple * round(log2(v[far]) / multiple)
  out[far] <- 2^e
  out
}

# The coordinates of a fit of `template` to (x, y) with the box `box`
# (box_theta()): centre and scale of x, scale of y, and the factor e by which
# the experts' (a, b) divide.
fit_scaling <- function(x, y, template, box) {
  fit_scaling_data(x, y, scaling_model(template, box))
}

# What the coordinates take from the model and its box, not from the data:
# whether x may be centred, and how a scale of y enters the parameters. A
# study computes it once per model (R/study-fit.R).
scaling_model <- function(template, box) {
  template <- unclass(template)  # plain `$`, without a look for methods
  intercept <- params_layout(template)$intercept
  # output weights carry the scale of y for any expert; otherwise only the
  # homogeneous experts can take it in (a, b)
  outw <- !is.null(template$c)
  list(free_intercepts = all(box$lower[intercept] == -Inf) && all(box$upper[intercept] == Inf),
       outw = outw, p = if (template$expert == "polynomial" && !outw) template$degree else 1L,
       homogeneous = outw || template$expert %in% c("linear", "relu", "polynomial", "constant"))
}

# The coordinates of the data (x, y) for a model described by scaling_model().
fit_scaling_data <- function(x, y, model) {
  # colMeans() without its checks (x is a double matrix)
  mu <- .colMeans(x, nrow(x), ncol(x))
  names(mu) <- colnames(x)
  # the root mean square of x[, j] - mu[j] for every column, without overflow
  # or underflow of the squares, in C (src/scaling.c; no copies of x)
  sdv <- .Call(C_col_spread, x, mu)
  s <- power_of_two_scale(sdv)
  center <- rep(0, length(mu))
  if (model$free_intercepts) {
    far <- is.finite(sdv) & abs(mu) > scaling_center_ratio * sdv
    center[far] <- mu[far]
    names(center) <- names(far)
  }
  p <- model$p
  yscale <- if (model$homogeneous) power_of_two_scale(.Call(C_col_spread, y, 0), multiple = p) else 1
  sc <- list(center = center, scale = s, spread = sdv, yscale = yscale, outw = model$outw,
             e = if (model$outw) 1 else yscale^(1 / p),
             identity = all(center == 0) && all(s == 1) && yscale == 1)
  class(sc) <- "moe_scaling"
  sc
}

# x and y in the fit's coordinates (not copied when nothing changes).
scale_data <- function(sc, x, y) {
  if (sc$identity) return(list(x = x, y = y))
  xs <- x
  if (any(sc$center != 0) || any(sc$scale != 1)) {
    # the columns' centres and scales recycled over the rows (as sweep()
    # would, without its overhead: the same operations)
    n <- nrow(x)
    xs <- (x - rep(sc$center, each = n)) / rep(sc$scale, each = n)
    attributes(xs) <- attributes(x)
  }
  list(x = xs, y = if (sc$yscale != 1) y / sc$yscale else y)
}

# theta of the original coordinates -> the fit's (to = "fit"), or back
# (to = "data"); template gives the model's structure.
scale_theta <- function(sc, theta, template, to = c("fit", "data")) {
  sc <- unclass(sc)  # plain `$`, without a look for methods
  if (sc$identity) return(theta)
  to <- match.arg(to)
  p <- unclass(theta_params(theta, template))
  cen <- sc$center; e <- sc$e
  # the column scales recycled over the k rows of beta1 and a (as sweep()
  # would, without its overhead: the same products)
  s <- rep(sc$scale, each = p$k)
  if (to == "fit") {
    p$beta0 <- p$beta0 + drop(p$beta1 %*% cen)
    p$b <- (p$b + drop(p$a %*% cen)) / e
    p$beta1 <- p$beta1 * s
    p$a <- p$a * s / e
    if (isTRUE(sc$outw)) p$c <- p$c / sc$yscale
  } else {
    p$beta1 <- p$beta1 / s
    p$a <- p$a / s * e
    p$beta0 <- p$beta0 - drop(p$beta1 %*% cen)
    p$b <- p$b * e - drop(p$a %*% cen)
    if (isTRUE(sc$outw)) p$c <- p$c * sc$yscale
  }
  stats::setNames(params_theta(p), names(theta))
}

# The factor by which each free parameter is multiplied on the way to the
# fit's coordinates, after the centring (scale_theta()): s_j for beta1[, j],
# s_j / e for a[, j], 1 / e for b, 1 / yscale for c, 1 for beta0.
scale_factors <- function(sc, lay) {
  f <- rep(1, length(lay$block))
  f[lay$block == "beta1"] <- sc$scale[lay$column[lay$block == "beta1"]]
  f[lay$block == "a"] <- sc$scale[lay$column[lay$block == "a"]] / sc$e
  f[lay$block == "b"] <- 1 / sc$e
  f[lay$block == "c"] <- 1 / sc$yscale
  f
}

# The linear map C from theta to the theta of the centred inputs
# (x - centre): beta0_i + beta1_i'centre and b_i + a_i'centre, the other
# parameters unchanged.
centring_matrix <- function(center, lay) {
  P <- length(lay$name)
  C <- diag(P)
  for (r in seq_len(P)) {
    slope <- switch(lay$block[r], beta0 = "beta1", b = "a", NULL)
    if (is.null(slope)) next
    cols <- which(lay$block == slope & lay$expert == lay$expert[r])
    C[r, cols] <- center[lay$column[cols]]
  }
  C
}

# The box in the fit's coordinates: only scales act on bounded parameters (a
# centre is used only when beta0 and b are free), and they are positive.
scale_box <- function(sc, box, template) {
  if (sc$identity) return(box)
  f <- scale_factors(sc, params_layout(template))
  list(lower = box$lower * f, upper = box$upper * f)
}

# J'J in the original coordinates from J'J in the fit's: f = yscale * f_fit
# and theta_fit = T theta with T = diag(scale_factors()) C, the linear map of
# scale_theta(to = "fit"), so J = yscale * J_fit T.
scale_jtj <- function(sc, jtj, template) {
  if (sc$identity) return(jtj)
  lay <- params_layout(template)
  Tm <- scale_factors(sc, lay) * centring_matrix(sc$center, lay)
  sc$yscale^2 * crossprod(Tm, jtj %*% Tm)
}
