# Draws the README's Figure 1 (man/figures/figure1.png) and prints the numbers
# of the README sections "Figure 1" and "Table 1, measured", from the studies
# data-raw/paper.R stored in inst/extdata. Run from the package root after
# installing the package:
#
#   Rscript data-raw/readme.R
suppressPackageStartupMessages(library(sigmoe))
ext <- function(f) file.path("inst", "extdata", f)
st <- readRDS(ext("figure1_same_data.rds"))
st_b <- readRDS(ext("figure1_zero_slope.rds"))
reps <- readRDS(ext("representations.rds"))
tab <- readRDS(ext("table1.rds"))
info <- readRDS(ext("paper-session.rds"))

dir.create(file.path("man", "figures"), recursive = TRUE, showWarnings = FALSE)
grDevices::png(file.path("man", "figures", "figure1.png"), width = 10, height = 4.5,
               units = "in", res = 110)
plot(st, loss = "voronoi")
invisible(grDevices::dev.off())

cat(sprintf("Made %s on %s (%s cores, %s workers); studies took %s s\n",
            format(info$date, "%Y-%m-%d"), info$machine[["machine"]], info$machine[["cores"]],
            info$machine[["workers"]],
            paste(sprintf("%s %.0f", names(info$study_elapsed_s), unlist(info$study_elapsed_s)),
                  collapse = ", ")))
cat(sprintf("Figure 1 design: %s; surplus %s; %s\n\n", st$regime,
            paste(names(st$setup$surplus), st$setup$surplus, collapse = ", "),
            st$setup$bounds$label))

# A slope and its interval as the README quotes them.
ci <- function(rt, g, e, l) {
  i <- rt$gating == g & rt$expert == e & rt$loss == l
  sprintf("%.2f [%.2f, %.2f]", rt$slope[i], rt$lower[i], rt$upper[i])
}
losses <- c("voronoi", "expert_error1", "cell_error", "l2")
rt_mean <- rate_table(st, losses = losses)
rt_median <- rate_table(st, losses = losses, stat = "median")
print(rt_mean)
cat("\nREADME table, Figure 1 (mean; median):\n")
cat("| gate | experts | fits at a bound / at maxit | Voronoi loss, mean | Voronoi loss, median |",
    "expert error, over-specified atom, mean | expert error, median | L2 regression error |\n")
for (e in c("relu", "linear")) for (g in c("sigmoid", "softmax")) {
  i <- rt_mean$gating == g & rt_mean$expert == e & rt_mean$loss == "l2"
  cat(sprintf("| %s | %s | %d / %d of %d | %s | %s | %s | %s | %s |\n", g, e,
              rt_mean$at_bound[i], rt_mean$at_maxit[i], rt_mean$fits[i],
              ci(rt_mean, g, e, "voronoi"), ci(rt_median, g, e, "voronoi"),
              ci(rt_mean, g, e, "expert_error1"), ci(rt_median, g, e, "expert_error1"),
              ci(rt_mean, g, e, "l2")))
}
cat("\nSample sizes to reach an expert error of 0.05 (mean and median lines):\n")
print(sample_size(st, eps = 0.05, loss = "expert_error1"))
print(sample_size(st, eps = 0.05, loss = "expert_error1", stat = "median"))

cat("\nRepresentations (same_data, relu/linear/gelu, expert_error1, median):\n")
for (nm in names(reps)) {
  rt <- rate_table(reps[[nm]], losses = "expert_error1", stat = "median")
  rt_m <- rate_table(reps[[nm]], losses = "expert_error1")
  for (i in seq_len(nrow(rt)))
    cat(sprintf("  %-7s %-7s %-6s median %s mean %s  bound %d maxit %d / %d\n", nm, rt$gating[i],
                rt$expert[i], ci(rt, rt$gating[i], rt$expert[i], "expert_error1"),
                ci(rt_m, rt$gating[i], rt$expert[i], "expert_error1"),
                rt$at_bound[i], rt$at_maxit[i], rt$fits[i]))
}
gl <- reps$global$results
cat("\nGlobal search: winning start by gate and expert\n")
print(table(paste(gl$gating, gl$expert), gl$start))

cat("\nTable 1 (mean):\n")
print(tab)
studies <- attr(tab, "studies")
cat("\nTable 1 (median), by study:\n")
for (nm in names(studies)) {
  rt <- rate_table(studies[[nm]], losses = "expert_error1", stat = "median")
  for (i in seq_len(nrow(rt)))
    cat(sprintf("  %-20s %-7s %-10s %s  bound %d maxit %d / %d\n", nm, rt$gating[i],
                rt$expert[i], ci(rt, rt$gating[i], rt$expert[i], "expert_error1"),
                rt$at_bound[i], rt$at_maxit[i], rt$fits[i]))
}
