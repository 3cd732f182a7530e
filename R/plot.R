#' Plot a mixture-of-experts fit
#'
#' For one input (d = 1) the default shows the data with the fitted
#' regression function and each gated expert \eqn{g_i(x) h(a_i x + b_i)}
#' (panel 1; the data less the offset for a fit with one), and the gates
#' \eqn{g_i(x)} (panel 2), side by side. For more
#' inputs it shows residuals against fitted values (panel 3) and a normal QQ
#' plot of the residuals (panel 4). The graphical parameters are restored on
#' exit.
#'
#' @param x A `moe_fit` object from [moe_fit()] or [moe()].
#' @param which Panels to draw, a subset of 1:4: 1 data, fit and gated
#'   experts and 2 gates (both only for d = 1), 3 residuals against fitted
#'   values, 4 normal QQ plot of the residuals. Default `c(1, 2)` for d = 1,
#'   `c(3, 4)` otherwise.
#' @param col Colours of the experts, one per expert (recycled): colour
#'   names, `"#RRGGBB"` codes or palette numbers; default
#'   [grDevices::hcl.colors()] with palette `"Dark 3"`.
#' @param legend Where to put the legends of panels 1 and 2: `"auto"` (a
#'   band kept free above the data and curves), a keyword of
#'   [graphics::legend()] such as `"topleft"`, or `FALSE` for none.
#' @param n_grid Number of grid points for the curves of panels 1 and 2.
#' @param ... Further graphical parameters for the data points, such as
#'   `pch` or `cex`.
#' @returns `x`, invisibly.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe_fit(d$x1, d$y, k = 2, nstart = 3)
#' plot(fit)
#' plot(fit, which = 3:4)
#' @export
plot.moe_fit <- function(x, which = NULL, col = NULL, legend = "auto", n_grid = 400L, ...) {
  check_fit(x, "x")
  fit <- x
  if (is.null(which)) which <- if (fit$d == 1L) c(1L, 2L) else c(3L, 4L)
  if (!is.numeric(which) || length(which) < 1L || !all(is_whole_vec(which)) ||
      !all(which %in% 1:4) || anyDuplicated(which))
    abort_arg("which", "distinct panel numbers among 1, 2, 3, 4", which)
  which <- as.integer(which)
  if (fit$d != 1L && any(which <= 2L))
    stop(sprintf("`which` = 1 and 2 (data and gates against x) need d = 1, but the fit has d = %d inputs.",
                 fit$d), call. = FALSE)
  if (!isFALSE(legend)) legend <- check_legend(legend)
  n_grid <- check_whole(n_grid, "n_grid", min = 2)
  k <- fit$k
  col <- if (is.null(col)) grDevices::hcl.colors(k, "Dark 3") else rep_len(check_colours(col), k)
  if (length(which) > 1L) {
    op <- graphics::par(mfrow = c(1L, length(which)))
    on.exit(graphics::par(op), add = TRUE)
  }
  if (any(which <= 2L)) {
    xv <- fit$x[, 1L]
    grid <- seq(min(xv), max(xv), length.out = n_grid)
    comp <- model_components(fit$coefficients, grid)
    xlab <- fit$xnames[1L]
  }
  labels <- paste("expert", seq_len(k))
  for (w in which) {
    if (w == 1L) {
      # the curves are f_G without the offset, so the points are too
      yv <- fit$y - if (is.null(fit$offset)) 0 else fit$offset
      gh <- comp$gates * comp$experts
      ylim <- legend_room(range(yv, comp$f, gh), legend, k + 1L)
      graphics::plot(range(xv), ylim, type = "n", xlab = xlab,
                     ylab = if (is.null(fit$offset)) "y" else "y - offset",
                     main = "Data, fit and gated experts")
      graphics::points(xv, yv, col = grDevices::gray(0.6, 0.6), ...)
      # the fit first: where one expert dominates its gated output lies on
      # the fit, and drawn underneath it would vanish
      graphics::lines(grid, comp$f, lwd = 2)
      graphics::matlines(grid, gh, col = col, lty = 2, lwd = 2)
      if (!isFALSE(legend)) {
        labs <- as.expression(c(list("fit"), lapply(seq_len(k), function(i) bquote(g[.(i)] * h[.(i)]))))
        draw_legend(legend, labs, col = c("black", col), lty = c(1, rep(2, k)),
                    lwd = 2)
      }
    } else if (w == 2L) {
      graphics::matplot(grid, comp$gates, type = "l", col = col, lty = 1, lwd = 2,
                        ylim = legend_room(c(0, 1), legend, k), xlab = xlab, ylab = "gate",
                        main = sprintf("Gates (%s)", sub("_", " ", fit$gating)))
      if (!isFALSE(legend)) {
        draw_legend(legend, labels, col = col, lty = 1, lwd = 2)
      }
    } else if (w == 3L) {
      fv <- fit$fitted.values
      rv <- fit$residuals
      graphics::plot(fv, rv, xlab = "Fitted values", ylab = "Residuals",
                     main = "Residuals vs fitted", col = grDevices::gray(0.3, 0.6), ...)
      graphics::abline(h = 0, lty = 3)
    } else {
      rv <- fit$residuals
      stats::qqnorm(rv, main = "Normal Q-Q of residuals", ylab = "Residuals",
                    col = grDevices::gray(0.3, 0.6), ...)
      stats::qqline(rv, lty = 3)
    }
  }
  invisible(x)
}

# The places graphics::legend() takes by keyword, after "auto" (our band
# above the data); checked here so that a typo is an error naming `legend`
# before anything is drawn.
legend_positions <- c("auto", "bottomright", "bottom", "bottomleft", "left", "topleft", "top",
                      "topright", "right", "center")

check_legend <- function(legend) {
  expected <- sprintf("FALSE or one of %s", paste0("\"", legend_positions, "\"", collapse = ", "))
  if (!is.character(legend) || length(legend) != 1L || is.na(legend)) abort_arg("legend", expected, legend)
  hit <- pmatch(legend, legend_positions)
  if (is.na(hit)) abort_arg("legend", expected, legend)
  legend_positions[hit]
}

# With legend = "auto" the legend goes in a band added above the data, at
# most 4 entries per row, so that it never hides points or curves.
legend_columns <- function(n) min(n, 4L)

legend_room <- function(ylim, legend, n) {
  if (!identical(legend, "auto")) return(ylim)
  rows <- ceiling(n / legend_columns(n))
  ylim + c(0, (0.04 + 0.07 * rows) * diff(ylim))
}

draw_legend <- function(legend, labels, ...) {
  if (identical(legend, "auto")) {
    graphics::legend("top", legend = labels, ncol = legend_columns(length(labels)),
                     bty = "n", cex = 0.8, ...)
  } else {
    graphics::legend(legend, legend = labels, bty = "n", cex = 0.8, ...)
  }
}

#' Plot a mixture-of-experts fit with ggplot2
#'
#' The ggplot2 version of panels 1 and 3 of [plot.moe_fit()], in one plot. For
#' one input (d = 1): the data, the fitted regression function (solid, black)
#' and each gated expert \eqn{g_i(x) h(a_i x + b_i)} (dashed, one colour per
#' expert). For more inputs: residuals against fitted values. A fit with an
#' offset shows the data less the offset, which is what the model's
#' regression function fits.
#'
#' @param object A `moe_fit` object from [moe_fit()] or [moe()].
#' @param n_grid Number of grid points for the curves (d = 1).
#' @param ... Not used; any argument here is an error.
#' @returns A ggplot object, which can be printed or extended with further
#'   layers.
#' @seealso [plot.moe_fit()] for base graphics and the gates.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 300, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(fit)
#' @exportS3Method ggplot2::autoplot
autoplot.moe_fit <- function(object, n_grid = 400L, ...) {
  check_dots_empty(...)
  if (!requireNamespace("ggplot2", quietly = TRUE))
    stop("autoplot() of a fit needs the ggplot2 package.", call. = FALSE)
  check_fit(object)
  n_grid <- check_whole(n_grid, "n_grid", min = 2)
  fit <- object
  if (fit$d != 1L) {
    pts <- data.frame(fitted = unname(fit$fitted.values), residual = unname(fit$residuals))
    return(ggplot2::ggplot(pts, ggplot2::aes(x = .data$fitted, y = .data$residual)) +
             ggplot2::geom_hline(yintercept = 0, linetype = "dotted") +
             ggplot2::geom_point(colour = grDevices::gray(0.3), alpha = 0.6) +
             ggplot2::labs(x = "Fitted values", y = "Residuals", title = "Residuals vs fitted"))
  }
  k <- fit$k
  xv <- fit$x[, 1L]
  grid <- seq(min(xv), max(xv), length.out = n_grid)
  comp <- model_components(fit$coefficients, grid)
  pts <- data.frame(x = xv, y = fit$y - if (is.null(fit$offset)) 0 else fit$offset)
  curve <- data.frame(x = grid, y = comp$f)
  gh <- comp$gates * comp$experts
  labels <- paste0("g[", seq_len(k), "]*h[", seq_len(k), "]")
  gated <- data.frame(x = rep(grid, k), y = as.vector(gh),
                      expert = factor(rep(labels, each = n_grid), levels = labels))
  cols <- stats::setNames(grDevices::hcl.colors(k, "Dark 3"), labels)
  ggplot2::ggplot(pts, ggplot2::aes(x = .data$x, y = .data$y)) +
    ggplot2::geom_point(colour = grDevices::gray(0.6), alpha = 0.6) +
    # the fit under the gated experts: where one expert dominates, its gated
    # output lies on the fit and must stay visible
    ggplot2::geom_line(data = curve, linewidth = 1) +
    ggplot2::geom_line(data = gated, ggplot2::aes(colour = .data$expert), linetype = "dashed",
                       linewidth = 1) +
    ggplot2::scale_colour_manual(values = cols, labels = parse(text = labels)) +
    ggplot2::labs(x = fit$xnames[1L], y = if (is.null(fit$offset)) "y" else "y - offset",
                  colour = "gated expert", title = "Data, fit (black) and gated experts")
}
