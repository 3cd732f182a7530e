# The main job: reproduce the paper's Figure 1 at full size (ReLU and linear
# experts, sigmoid and softmax gates on the same data, 20 sample sizes from
# 1e3 to 1e5, 40 replicates) on all cores, write figure1.png, keep the study
# in figure1-study.rds and print the rate table, the sample sizes each gate
# needs and how to read them.
#
#   Rscript inst/scripts/figure1.R                # or, installed:
#   Rscript -e 'sigmoe::paper_figure1()'
#   Rscript inst/scripts/figure1.R > figure1.log  # progress goes to the log too
suppressPackageStartupMessages(library(sigmoe))

# A bar redrawn with carriage returns is one unreadable line in a log: under
# Rscript, write a line every 10 s with the time left instead.
if (requireNamespace("progressr", quietly = TRUE)) {
  progressr::handlers(study_progress_handler(interval = 10))
} else {
  cat("(install the progressr package to see the progress of the study)\n")
}
cat("Running the Figure 1 study (1600 tasks of 2 fits each); this takes minutes.\n")
st <- paper_figure1(reps = 40, file = "figure1.png", progress = TRUE)

saveRDS(st, "figure1-study.rds")
cat(sprintf("Study saved to %s: st <- readRDS(\"figure1-study.rds\") to look further.\n",
            normalizePath("figure1-study.rds", mustWork = FALSE)))
