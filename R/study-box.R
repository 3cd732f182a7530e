# The compact parameter set of a study's fits: the least-squares theory
# takes its minimum over a compact set, and without one an over-specified fit
# can run off (gates turning into steps, surplus weights or slopes growing
# without bound), so that it is no longer the estimator the rates are about.
# A study states its box once, for every gate and expert, and checks that it
# holds the truth and every start it uses.

# The smallest half-width of the automatic box, so that a truth with small
# parameters still leaves its fits room to move.
auto_box_min <- 10

# A fitted model of the study's shape with all parameters 0: the template the
# box is laid out on.
study_template <- function(k, d, gating, expert, degree) {
  moe_params(beta0 = numeric(k), beta1 = matrix(0, k, d), a = matrix(0, k, d), b = numeric(k),
             gating = gating, expert = expert, degree = if (expert == "polynomial") degree)
}

# `bounds` of convergence_study() resolved into the box every fit gets: its
# `lower` and `upper` in the forms of moe_fit(), per gate (the same for every
# gate), the half-width `c` of a symmetric box, and a one-line `label`.
# `starts` holds the noise-free representation starts by expert and gate.
study_bounds <- function(bounds, truths, starts, k, d, gating, expert, degree, split) {
  expected <- "\"auto\", NULL, a number > 0 (the box [-c, c]) or list(lower = , upper = )"
  half <- NA_real_
  if (is.null(bounds)) {
    lower <- -Inf
    upper <- Inf
  } else if (is.character(bounds)) {
    if (!identical(bounds, "auto")) abort_arg("bounds", expected, bounds)
    pars <- c(unlist(lapply(truths, function(tr) lapply(c(list(tr$data), tr$fit), function(p)
                if (!is.null(p)) params_theta(p)))),
              unlist(lapply(starts, function(by_gate) lapply(by_gate, function(s)
                lapply(s, params_theta)))))
    half <- max(auto_box_min, ceiling(2 * max(abs(pars))))
    lower <- -half
    upper <- half
  } else if (is.numeric(bounds) && length(bounds) == 1L && is.null(dim(bounds))) {
    if (is.na(bounds) || !is.finite(bounds) || bounds <= 0) abort_arg("bounds", expected, bounds)
    half <- as.numeric(bounds)
    lower <- -half
    upper <- half
  } else if (is.list(bounds) && !is.data.frame(bounds) && length(bounds) >= 1L &&
             !is.null(names(bounds)) && all(names(bounds) %in% c("lower", "upper")) &&
             !anyDuplicated(names(bounds))) {
    lower <- if (is.null(bounds$lower)) -Inf else bounds$lower
    upper <- if (is.null(bounds$upper)) Inf else bounds$upper
  } else {
    abort_arg("bounds", expected, bounds)
  }
  boxes <- list()
  for (e in expert) for (g in gating)
    boxes[[paste(e, g)]] <- tryCatch(
      box_theta(lower, upper, study_template(k, d, g, e, degree)),
      error = function(err) stop(sprintf("`bounds` must be a box for the fitted models: %s",
                                         conditionMessage(err)), call. = FALSE))
  for (e in expert) for (g in gating)
    box_check_starts(boxes[[paste(e, g)]], starts[[e]][[g]], truths[[e]]$fit[[g]], k, split, g, e)
  by_gate <- lapply(stats::setNames(gating, gating), function(g) list(lower = lower, upper = upper))
  list(input = bounds, lower = lower, upper = upper, gates = by_gate, half = half,
       label = box_label(bounds, half, boxes))
}

# The box must hold every start before noise (noise is projected into it)
# and the truth's atoms in every position a start gives them.
box_check_starts <- function(box, starts, truth, k, split, g, e) {
  fail <- function(what, theta, out)
    stop(sprintf(paste0("`bounds` must contain the truth and every start of the study: %s of ",
                        "the %s gate (%s experts) has %s = %s, outside [%s, %s]."), what,
                 sub("_", " ", g), e, names(theta)[out], format(theta[[out]]),
                 format(box$lower[[out]]), format(box$upper[[out]])), call. = FALSE)
  for (s in names(starts)) {
    theta <- params_theta(starts[[s]])
    out <- which(box_outside(theta, box))
    if (length(out)) fail(sprintf("the \"%s\" start", s), theta, out[1L])
  }
  if (is.null(truth) || k < truth$k) return(invisible())
  # the truth's atom j in the position of each of its copies
  idx <- rep(seq_len(truth$k), atom_copies(truth$k, split))
  p <- truth
  p$beta0 <- truth$beta0[idx]
  p$beta1 <- truth$beta1[idx, , drop = FALSE]
  p$a <- truth$a[idx, , drop = FALSE]
  p$b <- truth$b[idx]
  p$k <- k
  theta <- params_theta(p)
  out <- which(box_outside(theta, box))
  if (length(out)) fail("the truth", theta, out[1L])
  invisible()
}

# One line for a box: "box [-10, 10] on every free parameter", or the range
# of each block of parameters when the box is not the same for all.
box_label <- function(bounds, half, boxes) {
  if (is.null(bounds)) return("no box (unbounded)")
  lo <- unlist(lapply(boxes, `[[`, "lower"))
  up <- unlist(lapply(boxes, `[[`, "upper"))
  num <- function(v) as.character(signif(v, 6))
  if (all(lo == -Inf) && all(up == Inf)) return("no box (unbounded)")
  if (length(unique(lo)) == 1L && length(unique(up)) == 1L)
    return(sprintf("box [%s, %s] on every free parameter", num(lo[1L]), num(up[1L])))
  block <- sub("\\[.*$", "", sub("^[^.]*\\.", "", names(lo)))
  parts <- vapply(intersect(bound_blocks, block), function(blk) {
    l <- min(lo[block == blk])
    u <- max(up[block == blk])
    if (l == -Inf && u == Inf) sprintf("%s free", blk)
    else if (length(unique(lo[block == blk])) == 1L && length(unique(up[block == blk])) == 1L)
      sprintf("%s in [%s, %s]", blk, num(l), num(u))
    else sprintf("%s within [%s, %s]", blk, num(l), num(u))
  }, character(1))
  paste0("box on the free parameters: ", paste(parts, collapse = ", "))
}

# The box of a study in one line, for printed tables and plot captions;
# studies made before studies had a box ran unbounded.
study_box_label <- function(study) {
  b <- study$setup$bounds
  if (is.null(b) || is.null(b$label)) "no box (unbounded)" else b$label
}
