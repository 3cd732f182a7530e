# Draws the README's Figure 1 (man/figures/figure1.png) and prints the rate
# table and Table 1 quoted there, from the studies data-raw/paper.R stored in
# inst/extdata. Run from the package root after installing the package:
#
#   Rscript data-raw/readme.R
suppressPackageStartupMessages(library(sigmoe))
st <- readRDS(file.path("inst", "extdata", "figure1_same_data.rds"))
dir.create(file.path("man", "figures"), recursive = TRUE, showWarnings = FALSE)
grDevices::png(file.path("man", "figures", "figure1.png"), width = 10, height = 4.5,
               units = "in", res = 110)
plot(st, loss = "voronoi")
invisible(grDevices::dev.off())
print(rate_table(st, losses = c("voronoi", "expert_error1", "cell_error", "l2")))
print(readRDS(file.path("inst", "extdata", "table1.rds")))
