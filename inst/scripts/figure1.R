# The main job: reproduce the paper's Figure 1 at full size (ReLU and linear
# experts, sigmoid and softmax gates on the same data, 20 sample sizes from
# 1e3 to 1e5, 40 replicates) on all cores, write figure1.png and print the
# rate table and the sample sizes each gate needs.
#
#   Rscript inst/scripts/figure1.R            # or, installed:
#   Rscript -e 'sigmoe::paper_figure1()'
suppressPackageStartupMessages(library(sigmoe))
paper_figure1(reps = 40, file = "figure1.png", progress = interactive())
