# Rates measured by a convergence study: log-log lines of the mean (or median)
# losses with a bootstrap over replicates, the rates the theory predicts beside
# them, the sample sizes the lines imply, and how many fits stopped at the
# iteration cap, at a bound or failed, so that a slope is never read without
# them.

# Loss columns of a study: the built-in ones and the custom ones.
study_loss_columns <- function(study, per_expert = FALSE) {
  s <- study$setup
  cols <- character(0)
  for (l in s$losses$builtin) {
    cols <- c(cols, l)
    if (l == "expert_error" && per_expert) cols <- c(cols, paste0("expert_error", seq_len(s$truth$k)))
  }
  c(cols, names(s$losses$custom))
}

check_study_loss_names <- function(study, losses, arg = "losses") {
  avail <- c(study_loss_columns(study, per_expert = TRUE), "sse")
  if (!is.character(losses) || length(losses) < 1L || anyNA(losses))
    abort_arg(arg, sprintf("a character vector of the study's losses (%s)",
                           paste0("\"", avail, "\"", collapse = ", ")), losses)
  bad <- setdiff(losses, avail)
  if (length(bad))
    stop(sprintf("`%s` must name losses the study recorded (%s), not \"%s\".", arg,
                 paste0("\"", avail, "\"", collapse = ", "), bad[1L]), call. = FALSE)
  losses
}

# One loss of the study, by default the Voronoi loss, else the first loss
# recorded; by default only a loss with a value to show (the Voronoi loss of
# a study whose gates are all misspecified is NA throughout).
check_study_loss <- function(study, loss) {
  if (is.null(loss)) {
    avail <- study_loss_columns(study)
    shown <- avail[vapply(avail, function(l) {
      v <- study$results[[l]]
      any(is.finite(v) & v > 0)
    }, logical(1))]
    pick <- if (length(shown)) shown else avail
    loss <- if ("voronoi" %in% pick) "voronoi" else pick[1L]
  }
  if (!is.character(loss) || length(loss) != 1L) abort_arg("loss", "the name of one loss of the study", loss)
  check_study_loss_names(study, loss, "loss")
}

# The rate the theory predicts for a loss (up to log factors; see
# vignette("theory") and arXiv:2405.13997, arXiv:2402.02952), as a slope of
# log loss on log n and a label.
theory_rate <- function(loss, gating, expert, k, kt, misspecified, init, split) {
  none <- function(why) list(slope = NA_real_, label = why)
  if (misspecified) return(none("none (misspecified)"))
  # fewer experts than the truth: the fit tends to the best k-expert
  # approximation, and no loss tends to 0
  if (k < kt) return(none("none (k < k*: under-specified)"))
  if (loss == "l2") return(list(slope = -0.5, label = "n^-1/2"))
  if (!loss %in% c("voronoi", "expert_error") && !startsWith(loss, "expert_error"))
    return(none("none"))
  if (gating == "normalized_sigmoid") return(none("none stated"))
  over <- k > kt
  if (startsWith(loss, "expert_error") && loss != "expert_error") {
    if (init != "near_truth") return(none("none (cells not designed)"))
    j <- as.integer(sub("expert_error", "", loss))
    over <- over && j %in% split
  }
  if (!over) return(list(slope = -0.5, label = "n^-1/2 (exact atoms)"))
  interacting <- expert %in% c("linear", "polynomial")
  identifiable <- expert %in% c("relu", "gelu", "sigmoid", "tanh")
  if (gating == "softmax" && interacting)
    return(list(slope = 0, label = "slower than any power"))
  if (!identifiable) return(none("none stated"))
  if (loss == "voronoi") return(list(slope = -0.5, label = "n^-1/2 (squared over terms)"))
  list(slope = -0.25, label = "n^-1/4 (over-specified)")
}

# The statistics a study can summarise its replicates by. The mean is the
# paper's; the median is what a minority of stuck fits cannot move.
study_stats <- c("mean", "median")

check_stat <- function(stat) {
  # the untouched default of the formals means the paper's statistic
  if (identical(stat, study_stats)) return("mean")
  check_choice(stat, study_stats, "stat")
}

# Per fit: whether it stopped at the iteration cap (code -1), ended with a
# free parameter at a bound of the box, or failed with an error. Studies
# stored before `at_bound` was recorded count as having none at a bound.
fit_outcomes <- function(r) {
  nr <- nrow(r)
  code <- if (is.null(r$code)) rep(NA_integer_, nr) else r$code
  bound <- if (is.null(r$at_bound)) rep(0, nr) else r$at_bound
  err <- if (is.null(r$error)) rep(NA_character_, nr) else r$error
  out <- data.frame(at_maxit = !is.na(code) & code == -1L,
                    at_bound = !is.na(bound) & bound > 0,
                    failed = !is.na(err))
  out$flagged <- out$at_maxit | out$at_bound | out$failed
  out
}

# Per (gating, expert, n): mean, standard error, median and quartiles of the
# loss over the replicates with a finite loss (`reps`), and the number of
# fits, of those that failed, stopped at maxit, ended at a bound, or any of
# the three (`flagged`).
study_means <- function(study, loss) {
  r <- study$results
  v <- r[[loss]]
  oc <- fit_outcomes(r)
  key <- interaction(r$gating, r$expert, r$n, drop = TRUE, lex.order = TRUE)
  parts <- split(seq_len(nrow(r)), key)
  out <- do.call(rbind, lapply(parts, function(idx) {
    vv <- v[idx]
    vv <- vv[is.finite(vv)]
    q <- if (length(vv)) stats::quantile(vv, c(0.25, 0.5, 0.75), names = FALSE, type = 7)
         else rep(NA_real_, 3L)
    data.frame(gating = r$gating[idx[1L]], expert = r$expert[idx[1L]], n = r$n[idx[1L]],
               mean = if (length(vv)) mean(vv) else NA_real_,
               se = if (length(vv) > 1L) stats::sd(vv) / sqrt(length(vv)) else NA_real_,
               median = q[2L], q25 = q[1L], q75 = q[3L],
               reps = length(vv), fits = length(idx), failed = sum(oc$failed[idx]),
               at_maxit = sum(oc$at_maxit[idx]), at_bound = sum(oc$at_bound[idx]),
               flagged = sum(oc$flagged[idx]), stringsAsFactors = FALSE)
  }))
  rownames(out) <- NULL
  out
}

# The counts of study_means() alone, which do not depend on the loss.
study_fit_counts <- function(study) {
  r <- study$results
  oc <- fit_outcomes(r)
  if (!nrow(r))
    return(data.frame(gating = character(0), expert = character(0), n = numeric(0),
                      fits = integer(0), failed = integer(0), at_maxit = integer(0),
                      at_bound = integer(0), flagged = integer(0)))
  one <- rep(1L, nrow(r))
  out <- stats::aggregate(data.frame(fits = one, failed = oc$failed, at_maxit = oc$at_maxit,
                                     at_bound = oc$at_bound, flagged = oc$flagged),
                          by = list(gating = r$gating, expert = r$expert, n = r$n), FUN = sum)
  out <- out[order(out$gating, out$expert, out$n), , drop = FALSE]
  rownames(out) <- NULL
  for (j in c("fits", "failed", "at_maxit", "at_bound", "flagged")) out[[j]] <- as.integer(out[[j]])
  out
}

#' Convergence rates measured by a study
#'
#' For every gate, expert type and loss of a [convergence_study()], summarises
#' the loss over the replicates at each sample size by its mean (the paper's
#' statistic) or its median, and fits
#' \eqn{\log(\bar L_n) = c + s \log n}{log(mean loss) = c + s log(n)} by least
#' squares (the red dash-dotted lines of the paper's Figure 1), or the same
#' with the median. The confidence interval of the slope s comes from a
#' bootstrap over replicates: the replicates are resampled with replacement
#' within each n, the means (or medians) recomputed and the line refitted, and
#' the percentile interval of the refitted slopes is reported.
#'
#' Beside every measured slope is the rate the theory predicts (up to log
#' factors; see `vignette("theory", package = "sigmoe")` and Nguyen, Ho and
#' Rinaldo, arXiv:2405.13997 and arXiv:2402.02952), in `theory_slope` and
#' `theory`: \eqn{n^{-1/2}}{n^-1/2} for the regression function (`l2`) and
#' for the Voronoi loss, whose exponents make the \eqn{n^{-1/4}}{n^-1/4} rate
#' of over-specified atoms count as \eqn{n^{-1/2}}{n^-1/2}; for the expert
#' error \eqn{n^{-1/2}}{n^-1/2} for exact-specified atoms and
#' \eqn{n^{-1/4}}{n^-1/4} for over-specified atoms with second-order
#' identifiable experts (ReLU, GELU, sigmoid, tanh); and, for linear and
#' polynomial experts under the softmax gate, slower than any power (slope
#' 0). These are predictions, printed next to the measurements, never in
#' their place; `NA` where the papers state none.
#'
#' A fit that stopped at the iteration cap (`code == -1` in the results) or
#' with a parameter at a bound of the box (`at_bound > 0`) is not the least
#' squares estimator the theory is about, and a few such fits can move a mean
#' a long way; the table counts them for every gate and expert, so that a
#' slope is read together with them, and `stat = "median"` gives the rate of
#' the median, which a minority of them moves far less. When more than half
#' of the fits of a gate and expert are such fits, the printed table says
#' that neither statistic describes the estimator.
#'
#' @param study A `moe_study` object.
#' @param losses Losses to cover, a character vector of the study's loss
#'   columns; default every recorded loss (not the per-expert errors).
#' @param stat The statistic of the replicates at each n whose log is fitted
#'   on log n: `"mean"` (the default, the paper's statistic) or `"median"`.
#' @param level Confidence level of the interval, in (0, 1).
#' @param B Number of bootstrap resamples, a whole number >= 0 (0: no
#'   interval).
#' @param seed Seed of the bootstrap (the session's generator is left as it
#'   was). Each row resamples from its own stream, derived from `seed` and
#'   the row's gate, expert and loss, so a row's interval is the same
#'   whichever other rows a call asks for, and the mean and the median use the
#'   same resamples.
#' @returns A data frame of class `moe_rate_table` with one row per gate x
#'   expert x loss: `gating`, `expert`, `loss`, `stat`, `slope`, `lower`,
#'   `upper`, `intercept`, `n_min`, `n_max`, `sizes` (number of sample sizes
#'   used), `reps` (replicates per size), `theory_slope`, `theory`, and the
#'   counts over all sample sizes of the gate and expert: `fits`, `failed`
#'   (fits that raised an error and have no loss), `at_maxit` (fits that
#'   stopped at the iteration cap) and `at_bound` (fits with at least one
#'   free parameter at a bound of the box; 0 for studies that did not record
#'   it). The same counts per sample size are in the attribute `"cells"`, a
#'   data frame with one row per gate x expert x n, with also `flagged`, the
#'   fits with any of the three. It prints as a table.
#' @seealso [convergence_study()], [sample_size()], [plot.moe_study()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' rt <- rate_table(st, B = 200)
#' rt
#' rt$slope
#' rate_table(st, stat = "median", B = 200)
#' attr(rt, "cells")
#' @export
rate_table <- function(study, losses = NULL, stat = c("mean", "median"), level = 0.95,
                       B = 1000L, seed = 1L) {
  check_study(study)
  losses <- if (is.null(losses)) study_loss_columns(study) else check_study_loss_names(study, losses)
  stat <- check_stat(stat)
  level <- check_level(level, "level", "a number in (0, 1)")
  B <- check_whole(B, "B", min = 0)
  seed <- check_whole(seed, "seed", min = -.Machine$integer.max, max = .Machine$integer.max)
  s <- study$setup
  r <- study$results
  cells <- study_fit_counts(study)
  rows <- list()
  for (g in s$gating) for (e in s$expert) for (l in losses) {
    sub <- r[r$gating == g & r$expert == e, , drop = FALSE]
    # each row's resamples come from its own stream, so that its interval
    # does not depend on the other rows asked for, nor on the statistic
    fitl <- with_rng(cell_seed(seed, g, e, l), rate_fit(sub$n, sub[[l]], B, level, stat))
    th <- theory_rate(l, g, e, s$k, s$truth$k, s$misspecified[[g]], s$init, s$split)
    cnt <- cells[cells$gating == g & cells$expert == e, , drop = FALSE]
    rows[[length(rows) + 1L]] <- data.frame(
      gating = g, expert = e, loss = l, stat = stat, slope = fitl$slope, lower = fitl$lower,
      upper = fitl$upper, intercept = fitl$intercept, n_min = fitl$n_min, n_max = fitl$n_max,
      sizes = fitl$sizes, reps = fitl$reps, theory_slope = th$slope, theory = th$label,
      fits = sum(cnt$fits), failed = sum(cnt$failed), at_maxit = sum(cnt$at_maxit),
      at_bound = sum(cnt$at_bound), stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("moe_rate_table", "data.frame"), level = level, B = B, stat = stat,
            cells = cells)
}

# The seed of the bootstrap of one row of a rate table: `seed` combined with
# a hash of the row's gate, expert and loss (a polynomial hash of the
# characters modulo the prime 2^31 - 1, exact in doubles).
cell_seed <- function(seed, ...) {
  m <- 2147483647
  h <- 0
  for (v in utf8ToInt(paste(..., sep = "\r"))) h <- (h * 31 + v) %% m
  as.integer((seed %% m + h) %% m)
}

# The median of every row of a matrix, by one sort of all its entries rather
# than one call to median() per row: a bootstrap has thousands of rows.
row_medians <- function(m) {
  k <- ncol(m)
  s <- matrix(m[order(row(m), m)], nrow = nrow(m), byrow = TRUE)
  if (k %% 2L) s[, (k + 1L) %/% 2L] else (s[, k %/% 2L] + s[, k %/% 2L + 1L]) / 2
}

# Least-squares line of log(statistic of the losses) on log(n), and a
# bootstrap of its slope over replicates within each n.
rate_fit <- function(n, v, B, level, stat = "mean") {
  ok <- is.finite(v)
  n <- n[ok]
  v <- v[ok]
  sizes <- sort(unique(n))
  empty <- list(slope = NA_real_, lower = NA_real_, upper = NA_real_, intercept = NA_real_,
                n_min = NA_integer_, n_max = NA_integer_, sizes = 0L, reps = 0L)
  if (!length(sizes)) return(empty)
  groups <- lapply(sizes, function(m) v[n == m])
  centre <- if (stat == "median") stats::median else mean
  centres <- vapply(groups, centre, numeric(1))
  use <- centres > 0
  if (sum(use) < 2L) {
    empty$sizes <- sum(use)
    return(empty)
  }
  lx <- log(sizes[use])
  ly <- log(centres[use])
  cx <- lx - mean(lx)
  slope <- sum(cx * (ly - mean(ly))) / sum(cx^2)
  intercept <- mean(ly) - slope * mean(lx)
  lower <- upper <- NA_real_
  if (B > 0L && all(lengths(groups[use]) >= 2L)) {
    # the same resamples for both statistics, so that they differ only by it
    boot <- vapply(groups[use], function(g) {
      idx <- matrix(sample.int(length(g), length(g) * B, replace = TRUE), nrow = B)
      resampled <- matrix(g[idx], nrow = B)
      if (stat == "median") row_medians(resampled) else rowMeans(resampled)
    }, numeric(B))
    boot <- matrix(boot, nrow = B)
    lb <- log(boot)
    okb <- rowSums(!is.finite(lb)) == 0L
    if (any(okb)) {
      lb <- lb[okb, , drop = FALSE]
      sb <- drop((lb - rowMeans(lb)) %*% cx) / sum(cx^2)
      a <- (1 - level) / 2
      q <- stats::quantile(sb, c(a, 1 - a), names = FALSE, type = 7)
      lower <- q[1L]
      upper <- q[2L]
    }
  }
  list(slope = slope, lower = lower, upper = upper, intercept = intercept,
       n_min = as.integer(min(sizes[use])), n_max = as.integer(max(sizes[use])),
       sizes = sum(use), reps = as.integer(stats::median(lengths(groups[use]))))
}

# Where the theory's rates come from, in words a user can follow up.
theory_source <- "vignette(\"theory\", package = \"sigmoe\"); arXiv:2405.13997, arXiv:2402.02952"

#' @export
print.moe_rate_table <- function(x, digits = 3L, ...) {
  # decimal places of formatC(format = "f"): 0 shows whole numbers
  digits <- check_digits(digits, min = 0)
  lev <- attr(x, "level")
  B <- attr(x, "B")
  df <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  stat <- attr(x, "stat")
  if (is.null(stat)) stat <- if (is.null(df$stat)) "mean" else df$stat[1L]
  cat(sprintf("Convergence rates: slope of log(%s loss) on log(n)%s\n", stat,
              if (isTRUE(B > 0)) sprintf(", %g%% bootstrap CI over replicates (B = %d)",
                                          100 * lev, B) else ""))
  show <- data.frame(
    gating = df$gating, expert = df$expert, loss = df$loss,
    slope = formatC(df$slope, digits = digits, format = "f"),
    CI = ifelse(is.na(df$lower), "", sprintf("[%s, %s]", formatC(df$lower, digits = digits, format = "f"),
                                             formatC(df$upper, digits = digits, format = "f"))),
    intercept = formatC(df$intercept, digits = digits, format = "f"),
    n = ifelse(is.na(df$n_min), "", sprintf("%d..%d (%d)", df$n_min, df$n_max, df$sizes)),
    theory = ifelse(is.na(df$theory_slope), df$theory,
                    sprintf("%s: %s", formatC(df$theory_slope, digits = 2, format = "f"), df$theory)),
    stringsAsFactors = FALSE)
  show$slope[is.na(df$slope)] <- "NA"
  show$intercept[is.na(df$intercept)] <- "NA"
  print(show, row.names = FALSE, right = FALSE)
  # why a slope or a CI is missing, when one is
  if (any(is.na(df$slope)))
    cat("slope NA: fewer than 2 sample sizes with a finite, positive loss (a single n, or a loss\n",
        "  that the fits of that gate do not have).\n", sep = "")
  if (isTRUE(B > 0) && any(!is.na(df$slope) & is.na(df$lower)))
    cat("CI missing: the bootstrap resamples the replicates of each n and needs at least 2 of them.\n")
  cat("theory: the slope the theory predicts (up to log factors), a prediction, not a measurement;\n",
      "  \"none stated\": the papers give no rate for this case.\n",
      "  Source: ", theory_source, ".\n",
      sep = "")
  if (all(c("fits", "failed", "at_maxit", "at_bound") %in% names(df))) {
    # the counts are per gate and expert, the same for every loss: shown once
    counts <- unique(df[c("gating", "expert", "fits", "at_maxit", "at_bound", "failed")])
    names(counts)[4:5] <- c("maxit", "bound")
    cat("\nFits per gate and expert, over all n (maxit: stopped at the iteration cap; bound: ended\n",
        "with a parameter at a bound of the box; failed: raised an error, no loss):\n", sep = "")
    print(counts, row.names = FALSE, right = FALSE)
    # the share of fits that are not the estimator decides what a median can do
    cells <- attr(x, "cells")
    stuck <- if (!is.null(cells$flagged))
      stats::aggregate(cbind(flagged = cells$flagged - cells$failed, fits = cells$fits),
                       by = list(gating = cells$gating, expert = cells$expert), FUN = sum)
    else data.frame(flagged = pmax(counts$maxit, counts$bound), fits = counts$fits)
    share <- stuck$flagged / pmax(stuck$fits, 1)
    if (any(share > 0.5)) {
      cat("More than half of the fits of some gate and expert stopped at maxit or at a bound: their\n",
          "mean and median both describe the solver more than the estimator (counts per n:\n",
          "attr(rate_table(...), \"cells\")).\n",
          sep = "")
    } else if (stat == "mean" && any(share > 0)) {
      cat("Some fits stopped at maxit or at a bound, under half of each gate and expert:\n",
          "stat = \"median\" gives the rate of the median, which such a minority moves far less.\n",
          sep = "")
    }
  }
  invisible(x)
}

#' Sample size needed to reach a loss
#'
#' From the fitted lines of [rate_table()], \eqn{\log(\bar L_n) = c + s \log
#' n}{log(mean loss) = c + s log(n)} (or the same with the median), the
#' sample size at which each gate (and expert type) reaches the loss `eps`:
#' \eqn{n = \exp((\log \epsilon - c) / s)}{n = exp((log(eps) - c) / s)}. A
#' line that does not decrease (s >= 0) never reaches a smaller loss: its n
#' is `Inf`. A sample size outside the range of n the line was fitted on is
#' an extrapolation, which assumes the line holds beyond the study: the
#' column `extrapolated` says so, and the printed table marks it with `*`
#' and a footnote.
#'
#' @inheritParams rate_table
#' @param eps Target loss(es), a vector of numbers > 0.
#' @param loss The loss, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @returns A data frame of class `moe_sample_size` with one row per gate x
#'   expert x `eps`: `gating`, `expert`, `loss`, `stat`, `eps`, `slope`,
#'   `intercept`, `n` (the sample size needed), `n_min` and `n_max` (the
#'   range of sample sizes the line was fitted on) and `extrapolated` (`TRUE`
#'   when n lies outside that range). It prints as a table, marking
#'   extrapolated sizes.
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' sample_size(st, eps = c(0.05, 0.01), loss = "l2")
#' sample_size(st, eps = 0.05, loss = "l2", stat = "median")
#' @export
sample_size <- function(study, eps, loss = NULL, stat = c("mean", "median")) {
  check_study(study)
  if (missing(eps)) abort_missing("eps", "the target loss(es), numbers > 0")
  if (!is.numeric(eps) || length(eps) < 1L || anyNA(eps) || any(!is.finite(eps)) || any(eps <= 0))
    abort_arg("eps", "a vector of numbers > 0 (target losses)", eps)
  loss <- check_study_loss(study, loss)
  stat <- check_stat(stat)
  rt <- rate_table(study, losses = loss, stat = stat, B = 0L)
  rows <- lapply(eps, function(ep) {
    nn <- ifelse(is.na(rt$slope), NA_real_,
                 ifelse(rt$slope < 0, exp((log(ep) - rt$intercept) / rt$slope), Inf))
    data.frame(gating = rt$gating, expert = rt$expert, loss = rt$loss, stat = stat, eps = ep,
               slope = rt$slope, intercept = rt$intercept, n = nn, n_min = rt$n_min,
               n_max = rt$n_max, extrapolated = !is.na(nn) & (nn < rt$n_min | nn > rt$n_max),
               stringsAsFactors = FALSE)
  })
  new_sample_size(do.call(rbind, rows))
}

new_sample_size <- function(x) {
  x <- as.data.frame(x, stringsAsFactors = FALSE)
  rownames(x) <- NULL
  class(x) <- c("moe_sample_size", "data.frame")
  x
}

# A sample size as people read it: whole, with thousands marks, and "*" when
# it is an extrapolation, so that it is never quoted without saying so.
format_sample_size <- function(n, extrapolated) {
  txt <- vapply(n, function(v) {
    if (is.na(v)) return("NA")
    if (is.infinite(v)) return("never")
    if (v < 1) return("<1")
    if (v >= 1e9) return(formatC(v, format = "e", digits = 2))
    format(round(v), big.mark = ",", scientific = FALSE, trim = TRUE)
  }, character(1))
  paste0(txt, ifelse(!is.na(n) & is.finite(n) & extrapolated, "*", ""))
}

#' @export
print.moe_sample_size <- function(x, digits = 3L, ...) {
  # decimal places of the slopes (formatC(format = "f")): 0 shows whole numbers
  digits <- check_digits(digits, min = 0)
  df <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  stat <- if (is.null(df$stat)) "mean" else df$stat[1L]
  cat(sprintf("Sample size n at which the line of log(%s loss) on log(n) of each gate reaches eps\n",
              stat))
  extrap <- if (is.null(df$extrapolated)) rep(FALSE, nrow(df)) else df$extrapolated
  show <- data.frame(gating = df$gating, expert = df$expert, loss = df$loss,
                     eps = formatC(df$eps, digits = 3, format = "g"),
                     slope = formatC(df$slope, digits = digits, format = "f"),
                     n = format_sample_size(df$n, extrap), stringsAsFactors = FALSE)
  print(show, row.names = FALSE, right = FALSE)
  star <- !is.na(df$n) & is.finite(df$n) & extrap
  if (any(star)) {
    ranges <- unique(sprintf("[%s, %s]", format(df$n_min[star], big.mark = ",", trim = TRUE),
                             format(df$n_max[star], big.mark = ",", trim = TRUE)))
    cat(sprintf("* extrapolated beyond the studied range %s of n: %s\n", paste(ranges, collapse = " / "),
                "it assumes the fitted line holds there."))
  }
  if (any(is.infinite(df$n)))
    cat("never: the fitted line does not decrease (slope >= 0), so it never reaches eps.\n")
  invisible(x)
}

# A subset of a rate table's rows keeps its class and attributes only while
# it still has the columns print() reads; otherwise it is a plain data frame.
#' @export
`[.moe_rate_table` <- function(x, ...) {
  out <- NextMethod()
  if (!is.data.frame(out)) return(out)
  need <- c("gating", "expert", "loss", "slope", "lower", "upper", "intercept", "theory_slope",
            "theory")
  if (all(need %in% names(out))) {
    attributes(out)[c("level", "B", "stat")] <- attributes(x)[c("level", "B", "stat")]
    class(out) <- class(x)
  } else {
    class(out) <- "data.frame"
  }
  out
}
