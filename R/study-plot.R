# Plots of a convergence study, in base graphics and in ggplot2, in the colours
# of the paper's Figure 1.

utils::globalVariables(".data") # the ggplot2 pronoun in autoplot()

study_gate_colours <- c(sigmoid = "blue", softmax = "green4", normalized_sigmoid = "purple")

#' Plot the convergence of a study
#'
#' Log-log plot of the mean loss against n for every gate, with error bars
#' of plus or minus two standard errors over the replicates, and the fitted
#' lines of [rate_table()] red and dash-dotted, their slopes in the legend,
#' as in Figure 1 of Nguyen, Ho and Rinaldo (2024): the sigmoid gate in blue,
#' the softmax gate in green (the normalized sigmoid in purple). One panel
#' per expert type. `autoplot()` draws the same with ggplot2, when it is
#' installed.
#'
#' @param x,object A `moe_study` object.
#' @param loss The loss to plot, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @param ... Further graphical parameters passed to [plot.default()] for
#'   every panel (e.g. `main`, `ylab`).
#' @returns `plot()`: the study, invisibly. `autoplot()`: a ggplot object.
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' plot(st, loss = "l2")
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(st)
#' @export
plot.moe_study <- function(x, loss = NULL, ...) {
  pd <- study_plot_data(x, loss)
  experts <- x$setup$expert
  op <- graphics::par(mfrow = c(1L, length(experts)))
  on.exit(graphics::par(op), add = TRUE)
  dots <- list(...)
  for (e in experts) {
    m <- pd$means[pd$means$expert == e & is.finite(pd$means$mean) & pd$means$mean > 0, , drop = FALSE]
    bars <- error_bars(m)
    lo <- bars$lo
    hi <- bars$hi
    ylim <- if (nrow(m)) range(lo, hi) else c(0.1, 1)
    # head room for the legend
    ylim[2L] <- ylim[2L] * (ylim[2L] / ylim[1L])^0.4
    xlim <- range(x$setup$n)
    args <- utils::modifyList(list(x = 1, y = 1, type = "n", log = "xy", xlim = xlim, ylim = ylim,
                                   xlab = "n", ylab = pd$loss, main = sprintf("%s experts", e)), dots)
    do.call(graphics::plot, args)
    legend_text <- character(0)
    legend_col <- character(0)
    for (g in x$setup$gating) {
      mg <- m[m$gating == g, , drop = FALSE]
      if (!nrow(mg)) next
      col <- study_gate_colours[[g]]
      lg <- lo[m$gating == g]
      hg <- hi[m$gating == g]
      graphics::arrows(mg$n, lg, mg$n, hg, angle = 90, code = 3, length = 0.03, col = col)
      graphics::points(mg$n, mg$mean, pch = 19, col = col)
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
    if (length(legend_text))
      graphics::legend("topright", legend = c(legend_text, "fitted lines"),
                       col = c(legend_col, "red"), pch = c(rep(19, length(legend_col)), NA),
                       lty = c(rep(NA, length(legend_col)), 4), lwd = c(rep(1, length(legend_col)), 2),
                       bty = "n", cex = 0.85)
  }
  invisible(x)
}

study_plot_data <- function(x, loss) {
  check_study(x, "x")
  loss <- check_study_loss(x, loss)
  list(loss = loss, means = study_means(x, loss), rates = rate_table(x, losses = loss, B = 0L))
}

# Plus or minus two standard errors of the mean loss, the lower end kept
# above a tenth of the mean so that it stays on the log axis.
error_bars <- function(m) {
  se2 <- 2 * ifelse(is.finite(m$se), m$se, 0)
  list(lo = pmax(m$mean - se2, m$mean / 10), hi = m$mean + se2)
}

#' @rdname plot.moe_study
#' @exportS3Method ggplot2::autoplot
autoplot.moe_study <- function(object, loss = NULL, ...) {
  if (!requireNamespace("ggplot2", quietly = TRUE))
    stop("autoplot() of a study needs the ggplot2 package.", call. = FALSE)
  pd <- study_plot_data(object, loss)
  m <- pd$means[is.finite(pd$means$mean) & pd$means$mean > 0, , drop = FALSE]
  m[c("lo", "hi")] <- error_bars(m)
  rt <- pd$rates[is.finite(pd$rates$slope), , drop = FALSE]
  lines <- do.call(rbind, lapply(seq_len(nrow(rt)), function(i) {
    nn <- exp(seq(log(rt$n_min[i]), log(rt$n_max[i]), length.out = 20L))
    data.frame(expert = rt$expert[i], gating = rt$gating[i], n = nn,
               mean = exp(rt$intercept[i] + rt$slope[i] * log(nn)),
               label = sprintf("%s: slope %.2f", rt$gating[i], rt$slope[i]))
  }))
  cols <- study_gate_colours[unique(m$gating)]
  facet <- function(d) {
    d$expert <- factor(paste(d$expert, "experts"), levels = paste(object$setup$expert, "experts"))
    d
  }
  m <- facet(m)
  p <- ggplot2::ggplot(m, ggplot2::aes(x = .data$n, y = .data$mean, colour = .data$gating)) +
    ggplot2::geom_errorbar(ggplot2::aes(ymin = .data$lo, ymax = .data$hi), width = 0.03) +
    ggplot2::geom_point() +
    ggplot2::scale_x_log10() + ggplot2::scale_y_log10() +
    ggplot2::scale_colour_manual(values = cols) +
    ggplot2::facet_wrap(~expert) +
    ggplot2::labs(x = "n", y = pd$loss, colour = "gate",
                  caption = "red dash-dotted: least-squares lines of log(mean loss) on log(n)")
  if (!is.null(lines) && nrow(lines)) {
    p <- p + ggplot2::geom_line(data = facet(lines),
                                ggplot2::aes(x = .data$n, y = .data$mean, group = .data$gating),
                                colour = "red", linetype = "dotdash", linewidth = 0.8,
                                inherit.aes = FALSE)
    # slopes written in each panel, top right, in the colour of their gate
    top <- max(m$hi)
    labels <- facet(data.frame(expert = rt$expert, gating = rt$gating,
                               label = sprintf("%s: slope %.2f", rt$gating, rt$slope)))
    labels$rank <- stats::ave(seq_len(nrow(labels)), labels$expert, FUN = seq_along)
    labels$n <- max(object$setup$n)
    labels$mean <- top * 1.6^(2 - labels$rank)
    p <- p + ggplot2::geom_text(data = labels,
                                ggplot2::aes(x = .data$n, y = .data$mean, label = .data$label,
                                             colour = .data$gating),
                                hjust = 1, size = 3.5, inherit.aes = FALSE, show.legend = FALSE)
  }
  p
}
