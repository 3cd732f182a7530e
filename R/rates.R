# Rates measured by a convergence study: log-log lines of the mean losses
# with a bootstrap over replicates, the rates the theory predicts beside them,
# and the sample sizes the lines imply.

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
# recorded.
check_study_loss <- function(study, loss) {
  if (is.null(loss)) {
    avail <- study_loss_columns(study)
    loss <- if ("voronoi" %in% avail) "voronoi" else avail[1L]
  }
  if (!is.character(loss) || length(loss) != 1L) abort_arg("loss", "the name of one loss of the study", loss)
  check_study_loss_names(study, loss, "loss")
}

# The rate SPEC section 4 predicts for a loss (up to log factors), as a slope
# of log loss on log n and a label.
theory_rate <- function(loss, gating, expert, k, kt, misspecified, init, split) {
  none <- function(why) list(slope = NA_real_, label = why)
  if (misspecified) return(none("none (misspecified)"))
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

# Mean loss, standard error and count per (gating, expert, n).
study_means <- function(study, loss) {
  r <- study$results
  v <- r[[loss]]
  key <- interaction(r$gating, r$expert, r$n, drop = TRUE, lex.order = TRUE)
  parts <- split(seq_len(nrow(r)), key)
  out <- do.call(rbind, lapply(parts, function(idx) {
    vv <- v[idx]
    vv <- vv[is.finite(vv)]
    data.frame(gating = r$gating[idx[1L]], expert = r$expert[idx[1L]], n = r$n[idx[1L]],
               mean = if (length(vv)) mean(vv) else NA_real_,
               se = if (length(vv) > 1L) stats::sd(vv) / sqrt(length(vv)) else NA_real_,
               reps = length(vv), stringsAsFactors = FALSE)
  }))
  rownames(out) <- NULL
  out
}

#' Convergence rates measured by a study
#'
#' For every gate, expert type and loss of a [convergence_study()], averages
#' the loss over the replicates at each sample size and fits
#' \eqn{\log(\bar L_n) = c + s \log n}{log(mean loss) = c + s log(n)} by least
#' squares (the red dash-dotted lines of the paper's Figure 1). The
#' confidence interval of the slope s comes from a bootstrap over replicates:
#' the replicates are resampled with replacement within each n, and the
#' percentile interval of the refitted slopes is reported.
#'
#' Beside every measured slope is the rate the theory predicts (SPEC section
#' 4, up to log factors), in `theory_slope` and `theory`: \eqn{n^{-1/2}}{n^-1/2}
#' for the regression function (`l2`) and for the Voronoi loss, whose
#' exponents make the \eqn{n^{-1/4}}{n^-1/4} rate of over-specified atoms
#' count as \eqn{n^{-1/2}}{n^-1/2}; for the expert error \eqn{n^{-1/2}}{n^-1/2}
#' for exact-specified atoms and \eqn{n^{-1/4}}{n^-1/4} for over-specified
#' atoms with second-order identifiable experts (ReLU, GELU, sigmoid, tanh);
#' and, for linear and polynomial experts under the softmax gate, slower than
#' any power (slope 0). These are predictions, printed next to the
#' measurements, never in their place; `NA` where the specification states
#' none.
#'
#' @param study A `moe_study` object.
#' @param losses Losses to cover, a character vector of the study's loss
#'   columns; default every recorded loss (not the per-expert errors).
#' @param level Confidence level of the interval, in (0, 1).
#' @param B Number of bootstrap resamples, a whole number >= 0 (0: no
#'   interval).
#' @param seed Seed of the bootstrap (the session's generator is left as it
#'   was).
#' @returns A data frame of class `moe_rate_table` with one row per gate x
#'   expert x loss: `gating`, `expert`, `loss`, `slope`, `lower`, `upper`,
#'   `intercept`, `n_min`, `n_max`, `sizes` (number of sample sizes used),
#'   `reps` (replicates per size), `theory_slope` and `theory`. It prints as a
#'   table.
#' @seealso [convergence_study()], [sample_size()], [plot.moe_study()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' rt <- rate_table(st, B = 200)
#' rt
#' rt$slope
#' @export
rate_table <- function(study, losses = NULL, level = 0.95, B = 1000L, seed = 1L) {
  check_study(study)
  losses <- if (is.null(losses)) study_loss_columns(study) else check_study_loss_names(study, losses)
  level <- check_number(level, "level", min = 0, max = 1)
  if (level <= 0 || level >= 1) abort_arg("level", "a number in (0, 1)", level)
  B <- check_whole(B, "B", min = 0)
  seed <- check_whole(seed, "seed", min = -.Machine$integer.max, max = .Machine$integer.max)
  s <- study$setup
  r <- study$results
  rows <- list()
  with_rng(seed, {
    for (g in s$gating) for (e in s$expert) for (l in losses) {
      sub <- r[r$gating == g & r$expert == e, , drop = FALSE]
      fitl <- rate_fit(sub$n, sub[[l]], B, level)
      th <- theory_rate(l, g, e, s$k, s$truth$k, s$misspecified[[g]], s$init, s$split)
      rows[[length(rows) + 1L]] <- data.frame(
        gating = g, expert = e, loss = l, slope = fitl$slope, lower = fitl$lower,
        upper = fitl$upper, intercept = fitl$intercept, n_min = fitl$n_min, n_max = fitl$n_max,
        sizes = fitl$sizes, reps = fitl$reps, theory_slope = th$slope, theory = th$label,
        stringsAsFactors = FALSE)
    }
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("moe_rate_table", "data.frame"), level = level, B = B)
}

# Least-squares line of log(mean loss) on log(n), and a bootstrap of its
# slope over replicates within each n.
rate_fit <- function(n, v, B, level) {
  ok <- is.finite(v)
  n <- n[ok]
  v <- v[ok]
  sizes <- sort(unique(n))
  empty <- list(slope = NA_real_, lower = NA_real_, upper = NA_real_, intercept = NA_real_,
                n_min = NA_integer_, n_max = NA_integer_, sizes = 0L, reps = 0L)
  if (!length(sizes)) return(empty)
  groups <- lapply(sizes, function(m) v[n == m])
  means <- vapply(groups, mean, numeric(1))
  use <- means > 0
  if (sum(use) < 2L) {
    empty$sizes <- sum(use)
    return(empty)
  }
  lx <- log(sizes[use])
  ly <- log(means[use])
  cx <- lx - mean(lx)
  slope <- sum(cx * (ly - mean(ly))) / sum(cx^2)
  intercept <- mean(ly) - slope * mean(lx)
  lower <- upper <- NA_real_
  if (B > 0L && all(lengths(groups[use]) >= 2L)) {
    boot <- vapply(groups[use], function(g) {
      idx <- matrix(sample.int(length(g), length(g) * B, replace = TRUE), nrow = B)
      rowMeans(matrix(g[idx], nrow = B))
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

#' @export
print.moe_rate_table <- function(x, digits = 3L, ...) {
  lev <- attr(x, "level")
  B <- attr(x, "B")
  cat(sprintf("Convergence rates: slope of log(mean loss) on log(n)%s\n",
              if (isTRUE(B > 0)) sprintf(", %g%% bootstrap CI over replicates (B = %d)",
                                          100 * lev, B) else ""))
  df <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
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
  cat("theory: the slope SPEC section 4 predicts (up to log factors), a prediction, not a measurement;\n",
      "        \"none stated\": the specification gives no rate for this case.\n", sep = "")
  invisible(x)
}

#' Sample size needed to reach a loss
#'
#' From the fitted lines of [rate_table()], \eqn{\log(\bar L_n) = c + s \log
#' n}{log(mean loss) = c + s log(n)}, the sample size at which each gate (and
#' expert type) reaches the mean loss `eps`: \eqn{n = \exp((\log \epsilon -
#' c) / s)}{n = exp((log(eps) - c) / s)}. A line that does not decrease
#' (s >= 0) never reaches a smaller loss: its n is `Inf`.
#'
#' @param study A `moe_study` object.
#' @param eps Target mean loss(es), a vector of numbers > 0.
#' @param loss The loss, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @returns A data frame with one row per gate x expert x `eps`: `gating`,
#'   `expert`, `loss`, `eps`, `slope`, `intercept`, `n` (the sample size
#'   needed) and `extrapolated` (`TRUE` when n lies outside the range of
#'   sample sizes the line was fitted on).
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' sample_size(st, eps = c(0.05, 0.01), loss = "l2")
#' @export
sample_size <- function(study, eps, loss = NULL) {
  check_study(study)
  if (!is.numeric(eps) || length(eps) < 1L || anyNA(eps) || any(!is.finite(eps)) || any(eps <= 0))
    abort_arg("eps", "a vector of numbers > 0 (target losses)", eps)
  loss <- check_study_loss(study, loss)
  rt <- rate_table(study, losses = loss, B = 0L)
  rows <- lapply(eps, function(ep) {
    nn <- ifelse(is.na(rt$slope), NA_real_,
                 ifelse(rt$slope < 0, exp((log(ep) - rt$intercept) / rt$slope), Inf))
    data.frame(gating = rt$gating, expert = rt$expert, loss = rt$loss, eps = ep,
               slope = rt$slope, intercept = rt$intercept, n = nn,
               extrapolated = !is.na(nn) & (nn < rt$n_min | nn > rt$n_max),
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}
