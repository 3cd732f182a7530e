# Plots of a convergence study, in base graphics and in ggplot2, in the colours
# of the paper's Figure 1.

utils::globalVariables(".data") # the ggplot2 pronoun in autoplot()

study_gate_colours <- c(sigmoid = "blue", softmax = "green4", normalized_sigmoid = "purple")

# A point is drawn open when more than this share of its fits stopped at
# maxit, ended at a bound or failed: its statistic is then partly about the
# solver, not the estimator.
flag_share <- 0.1

#' Plot the convergence of a study
#'
#' Log-log plot of the mean (or median) loss against n for every gate, with
#' error bars, and the fitted lines of [rate_table()] red and dash-dotted,
#' their slopes in the legend, as in Figure 1 of Nguyen, Ho and Rinaldo
#' (2024): the sigmoid gate in blue, the softmax gate in green (the
#' normalized sigmoid in purple). One panel per expert type. `autoplot()`
#' draws the same with ggplot2, when it is installed.
#'
#' With `stat = "mean"` (the paper's statistic) the bars are plus or minus
#' two standard errors of the mean over the replicates; with `stat =
#' "median"` they are the interquartile range of the replicates (the middle
#' half of the fits, as in a box plot), which needs no assumption of
#' normality and no resampling. The lower end of a bar is kept above a tenth
#' of its point so that it stays on the log axis.
#'
#' Every point is drawn open instead of filled when more than 10% of its fits
#' stopped at the iteration cap, ended with a parameter at a bound of the box
#' or failed (see [rate_table()]); a line under each panel (the caption in
#' `autoplot()`) counts those fits over the panel, and lists the sample sizes
#' of the open points.
#'
#' @param x,object A `moe_study` object.
#' @param loss The loss to plot, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @param stat The statistic of the replicates at each n: `"mean"` (the
#'   default, as in the paper) or `"median"`; the fitted lines are those of
#'   `rate_table(stat = stat)`.
#' @param ... For `plot()`: further graphical parameters passed to
#'   [plot.default()] for every panel (e.g. `main`, `ylab`). For
#'   `autoplot()`: not used; any argument here is an error (add layers to
#'   the plot it returns instead).
#' @returns `plot()`: the study, invisibly. `autoplot()`: a ggplot object.
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' plot(st, loss = "l2")
#' plot(st, loss = "l2", stat = "median")
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(st)
#' @export
plot.moe_study <- function(x, loss = NULL, stat = c("mean", "median"), ...) {
  pd <- study_plot_data(x, loss, stat)
  experts <- x$setup$expert
  op <- graphics::par(mfrow = c(1L, length(experts)))
  on.exit(graphics::par(op), add = TRUE)
  dots <- list(...)
  for (e in experts) {
    m <- pd$points[pd$points$expert == e, , drop = FALSE]
    ylim <- if (nrow(m)) range(m$lo, m$hi) else c(0.1, 1)
    # head room for the legend
    ylim[2L] <- ylim[2L] * (ylim[2L] / ylim[1L])^0.6
    xlim <- range(x$setup$n)
    args <- utils::modifyList(list(x = 1, y = 1, type = "n", log = "xy", xlim = xlim, ylim = ylim,
                                   xlab = "n", ylab = pd$ylab, main = sprintf("%s experts", e)),
                              dots)
    do.call(graphics::plot, args)
    legend_text <- character(0)
    legend_col <- character(0)
    for (g in x$setup$gating) {
      mg <- m[m$gating == g, , drop = FALSE]
      if (!nrow(mg)) next
      col <- study_gate_colours[[g]]
      # a bar of no length (one replicate) is not drawn
      bar <- is.finite(mg$lo) & is.finite(mg$hi) & mg$hi > mg$lo
      if (any(bar))
        graphics::arrows(mg$n[bar], mg$lo[bar], mg$n[bar], mg$hi[bar], angle = 90, code = 3,
                         length = 0.03, col = col)
      graphics::points(mg$n, mg$y, pch = ifelse(mg$open, 21, 19), col = col,
                       bg = ifelse(mg$open, "white", col))
      rt <- pd$rates[pd$rates$gating == g & pd$rates$expert == e, , drop = FALSE]
      if (nrow(rt) && is.finite(rt$slope)) {
        nn <- c(rt$n_min, rt$n_max)
        graphics::lines(nn, exp(rt$intercept + rt$slope * log(nn)), col = "red", lty = "dotdash",
                        lwd = 2)
        legend_text <- c(legend_text, sprintf("%s (slope %.2f)", g, rt$slope))
      } else {
        legend_text <- c(legend_text, g)
      }
      legend_col <- c(legend_col, col)
    }
    if (length(legend_text)) {
      ng <- length(legend_col)
      extra <- c("fitted lines", pd$bars)
      pch <- c(rep(19, ng), NA, NA)
      lty <- c(rep(NA, ng), 4, 1)
      lwd <- c(rep(1, ng), 2, 1)
      cols <- c(legend_col, "red", "grey30")
      if (any(m$open)) {
        extra <- c(extra, sprintf("open: > %d%% of fits at maxit/bound/failed", 100 * flag_share))
        pch <- c(pch, 21)
        lty <- c(lty, NA)
        lwd <- c(lwd, 1)
        cols <- c(cols, "grey30")
      }
      graphics::legend("topright", legend = c(legend_text, extra), col = cols, pch = pch,
                       lty = lty, lwd = lwd, pt.bg = "white", bty = "n", cex = 0.8)
    }
    graphics::mtext(panel_note(pd$cells[pd$cells$expert == e, , drop = FALSE]), side = 1,
                    line = 4, cex = 0.65, col = "grey30")
  }
  invisible(x)
}

# Everything both plots draw: the points with their bars and open flags, the
# fitted lines, the counts, and the words that say which statistic it is.
study_plot_data <- function(x, loss, stat) {
  check_study(x, "x")
  loss <- check_study_loss(x, loss)
  stat <- check_stat(stat)
  cells <- study_means(x, loss)
  cells$y <- cells[[stat]]
  m <- cells[is.finite(cells$y) & cells$y > 0, , drop = FALSE]
  if (!nrow(m))
    stop(sprintf(paste0("`loss` \"%s\" has no finite, positive %s in this study to plot on log ",
                        "axes (for a misspecified gate the Voronoi loss is NA); choose another, ",
                        "e.g. loss = \"l2\"."), loss, stat), call. = FALSE)
  m[c("lo", "hi")] <- error_bars(m, stat)
  m$open <- m$flagged > flag_share * m$fits
  list(loss = loss, stat = stat, points = m, cells = cells,
       rates = rate_table(x, losses = loss, stat = stat, B = 0L),
       ylab = sprintf("%s %s loss over replicates", stat, loss),
       bars = if (stat == "mean") sprintf("bars: mean %s 2 SE", plus_minus())
              else "bars: interquartile range")
}

# A plus-minus sign where the locale can draw it.
plus_minus <- function() if (isTRUE(l10n_info()[["UTF-8"]])) "\u00b1" else "+/-"

# Bars around the statistic: plus or minus two standard errors of a mean, the
# interquartile range of the replicates around a median; the lower end kept
# above a tenth of the point so that it stays on the log axis.
error_bars <- function(m, stat = "mean") {
  if (stat == "median") {
    lo <- ifelse(is.finite(m$q25), m$q25, m$y)
    hi <- ifelse(is.finite(m$q75), m$q75, m$y)
  } else {
    se2 <- 2 * ifelse(is.finite(m$se), m$se, 0)
    lo <- m$y - se2
    hi <- m$y + se2
  }
  list(lo = pmax(lo, m$y / 10), hi = hi)
}

# One line under a panel: how many of its fits stopped at maxit, ended at a
# bound or failed, and at which n more than the flagged share of them did.
panel_note <- function(cells) {
  if (!nrow(cells)) return("")
  txt <- sprintf("%d fits: %d at maxit, %d at a bound, %d failed", sum(cells$fits),
                 sum(cells$at_maxit), sum(cells$at_bound), sum(cells$failed))
  open <- cells[cells$flagged > flag_share * cells$fits, , drop = FALSE]
  if (nrow(open)) {
    ns <- sort(unique(open$n))
    # a long list of sizes would run off the panel: then only how many
    txt <- if (length(ns) > 4L)
      sprintf("%s; open points at %d of %d n", txt, length(ns), length(unique(cells$n)))
    else sprintf("%s; open points at n = %s", txt,
                 paste(format(ns, trim = TRUE, scientific = FALSE), collapse = ", "))
  }
  txt
}

#' @rdname plot.moe_study
#' @exportS3Method ggplot2::autoplot
autoplot.moe_study <- function(object, loss = NULL, stat = c("mean", "median"), ...) {
  check_dots_empty(...)
  if (!requireNamespace("ggplot2", quietly = TRUE))
    stop("autoplot() of a study needs the ggplot2 package.", call. = FALSE)
  pd <- study_plot_data(object, loss, stat)
  m <- pd$points
  rt <- pd$rates[is.finite(pd$rates$slope), , drop = FALSE]
  lines <- do.call(rbind, lapply(seq_len(nrow(rt)), function(i) {
    nn <- exp(seq(log(rt$n_min[i]), log(rt$n_max[i]), length.out = 20L))
    data.frame(expert = rt$expert[i], gating = rt$gating[i], n = nn,
               y = exp(rt$intercept[i] + rt$slope[i] * log(nn)),
               label = sprintf("%s: slope %.2f", rt$gating[i], rt$slope[i]))
  }))
  cols <- study_gate_colours[unique(m$gating)]
  facet <- function(d) {
    d$expert <- factor(paste(d$expert, "experts"), levels = paste(object$setup$expert, "experts"))
    d
  }
  m <- facet(m)
  flag_labels <- c(sprintf("<= %d%%", 100 * flag_share), sprintf("> %d%%", 100 * flag_share))
  m$flag <- factor(ifelse(m$open, flag_labels[2L], flag_labels[1L]), levels = flag_labels)
  notes <- vapply(object$setup$expert, function(e)
    sprintf("%s: %s", e, panel_note(pd$cells[pd$cells$expert == e, , drop = FALSE])), character(1))
  # short lines, aligned left: a caption wider than the plot is cut off
  caption <- paste(c(sprintf("points: %s over replicates; %s", pd$stat, pd$bars),
                     sprintf("red dash-dotted: least-squares lines of log(%s loss) on log(n)", pd$stat),
                     notes), collapse = "\n")
  p <- ggplot2::ggplot(m, ggplot2::aes(x = .data$n, y = .data$y, colour = .data$gating)) +
    ggplot2::geom_errorbar(ggplot2::aes(ymin = .data$lo, ymax = .data$hi), width = 0.03) +
    ggplot2::geom_point(ggplot2::aes(shape = .data$flag), fill = "white") +
    ggplot2::scale_x_log10() + ggplot2::scale_y_log10() +
    ggplot2::scale_colour_manual(values = cols) +
    ggplot2::scale_shape_manual(values = stats::setNames(c(19, 21), flag_labels), drop = FALSE) +
    ggplot2::facet_wrap(~expert) +
    ggplot2::labs(x = "n", y = pd$ylab, colour = "gate",
                  shape = "fits at maxit,\nbound or failed", caption = caption) +
    ggplot2::theme(plot.caption = ggplot2::element_text(hjust = 0))
  if (!is.null(lines) && nrow(lines)) {
    p <- p + ggplot2::geom_line(data = facet(lines),
                                ggplot2::aes(x = .data$n, y = .data$y, group = .data$gating),
                                colour = "red", linetype = "dotdash", linewidth = 0.8,
                                inherit.aes = FALSE)
    # slopes written in each panel, top right above the bars, in the colour
    # of their gate
    top <- max(m$hi)
    labels <- facet(data.frame(expert = rt$expert, gating = rt$gating,
                               label = sprintf("%s: slope %.2f", rt$gating, rt$slope)))
    labels$rank <- stats::ave(seq_len(nrow(labels)), labels$expert, FUN = seq_along)
    labels$n <- max(object$setup$n)
    labels$y <- top * 1.8^(3 - labels$rank)
    p <- p + ggplot2::geom_text(data = labels,
                                ggplot2::aes(x = .data$n, y = .data$y, label = .data$label,
                                             colour = .data$gating),
                                hjust = 1, size = 3.5, inherit.aes = FALSE, show.legend = FALSE)
  }
  p
}
