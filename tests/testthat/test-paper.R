# The paper's designs and jobs (R/paper.R), at toy sizes, in this session.
withr_opts <- function(code) {
  old <- options(sigmoe.all_cores = FALSE)
  on.exit(options(old), add = TRUE)
  code
}

test_that("paper_truth gives the two designs, both softmax and both gates well specified", {
  a <- paper_truth("same_data", "relu")
  b <- paper_truth("zero_slope", "gelu")
  expect_s3_class(a, "moe_params")
  expect_identical(a$gating, "softmax")
  expect_equal(drop(a$beta1), c(3, 0))
  expect_equal(drop(b$beta1), c(0, 0))
  expect_identical(b$expert, "gelu")
  # a two-expert softmax with logits (z, 0) is the sigmoid pair sigma(z), sigma(-z)
  x <- seq(-1, 1, length.out = 41)
  sig <- moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = a$a, b = a$b,
                    gating = "sigmoid", expert = "relu")
  expect_equal(moe_mean(a, x), moe_mean(sig, x))
  expect_identical(paper_truth("same_data", "polynomial")$degree, 2L)
  expect_true(all(paper_truth("zero_slope", "constant")$a == 0))
  expect_error(paper_truth("other"), "`design` must be one of")
  expect_error(paper_truth("same_data", "cubic"), "`expert` must be one of")
})

test_that("paper_sizes are log-spaced whole numbers and check their arguments", {
  n <- paper_sizes(5, 100, 10000)
  expect_equal(n, c(100, 316, 1000, 3162, 10000))
  expect_length(paper_sizes(), 20L)
  expect_error(paper_sizes(1), "`sizes` must be a whole number >= 2")
  expect_error(paper_sizes(5, 100, 50), "`to` must be a single finite number > 100")
})

test_that("paper_figure1 writes a PNG, prints the rate table and per-panel sample sizes", {
  skip_on_cran()
  f <- tempfile(fileext = ".png")
  out <- withr_opts(capture.output(
    st <- paper_figure1(reps = 2, n = c(300, 600, 1200), file = f, progress = FALSE)))
  expect_true(file.exists(f))
  expect_identical(readBin(f, "raw", 4L), as.raw(c(0x89, 0x50, 0x4e, 0x47)))
  expect_s3_class(st, "moe_study")
  expect_setequal(unique(st$results$expert), c("relu", "linear"))
  expect_true(any(grepl("Convergence rates", out)))
  # the job ends by saying where the figure went and how to read the tables
  expect_true(any(grepl("How to read these tables", out, fixed = TRUE)))
  expect_true(any(grepl("rate_table(st, stat = \"median\")", out, fixed = TRUE)))
  expect_true(any(grepl("a prediction beside the measurement", out, fixed = TRUE)))
  expect_match(out[length(out)], paste0("Figure written to .*", basename(f)))
  # the theory it cites is one a user can open
  expect_false(any(grepl("section [0-9]", out)))
  # one loss level per panel: the geometric mean of the two gates' losses at the largest n
  ss <- sigmoe:::figure1_sample_sizes(st, "voronoi")
  m <- sigmoe:::study_means(st, "voronoi")
  for (e in c("relu", "linear")) {
    v <- m$mean[m$expert == e & m$n == 1200]
    expect_equal(unique(ss$eps[ss$expert == e]), signif(exp(mean(log(v))), 2))
  }
  # every printed sample size beyond the studied range carries its mark
  rows <- out[grepl("^ (sigmoid|softmax) +(relu|linear) +voronoi +[0-9.e+-]+ +-?[0-9.]+ ", out)]
  expect_length(rows, nrow(ss))
  marked <- ss$extrapolated & is.finite(ss$n)
  expect_identical(grepl("\\*\\s*$", rows), marked)
  expect_identical(any(grepl("* extrapolated beyond the studied range [300, 1,200]", out,
                             fixed = TRUE)), any(marked))
  expect_error(paper_figure1(loss = "mse"), "`loss` must be one of")
  expect_error(paper_figure1(file = 3), "`file` must be NULL or a file name")
  expect_error(paper_figure1(expert = "cubic"),
               "`expert` must be a character vector of distinct expert types")
  expect_error(paper_figure1(expert = c("relu", "relu")), "`expert` must not repeat a type; \"relu\" is repeated")
  expect_error(paper_figure1(expert = character(0)), "`expert` must be a character vector")
})

test_that("paper_figure1 draws a GELU panel when asked, in a PNG sized to the panels", {
  skip_on_cran()
  f <- tempfile(fileext = ".png")
  out <- withr_opts(capture.output(
    st <- paper_figure1(reps = 2, n = c(300, 600), expert = c("relu", "linear", "gelu"), file = f,
                        res = 40, progress = FALSE)))
  expect_identical(st$setup$expert, c("relu", "linear", "gelu"))
  # the PNG header's width and height (big-endian, bytes 17-24): 5 inches a panel
  head <- readBin(f, "raw", 24L)
  dims <- vapply(list(17:20, 21:24), function(b) sum(as.integer(head[b]) * 256^(3:0)), numeric(1))
  expect_equal(dims, c(3 * 5 * 40, 4.5 * 40))
  expect_true(any(grepl("relu, linear, gelu experts", out, fixed = TRUE)))
  # three panels: three new plots in the display list, the last one titled gelu
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  dev.control("enable")
  plot(st)
  ops <- recordPlot()[[1]]
  name <- vapply(ops, function(o) {
    f <- o[[2]][[1]]
    if (is.list(f) && !is.null(f$name)) f$name else ""
  }, character(1))
  expect_identical(sum(name == "C_plot_new"), 3L)
  titles <- unlist(lapply(ops[name == "C_title"], function(o) o[[2]][[2]]))
  expect_identical(titles, c("relu experts", "linear experts", "gelu experts"))
  # the default stays the paper's two panels
  expect_identical(eval(formals(paper_figure1)$expert), c("relu", "linear"))
})

test_that("the main job's progress handler writes lines a log can show", {
  skip_on_cran()
  skip_if_not_installed("progressr")
  old <- options(progressr.handlers = NULL)
  on.exit(options(old), add = TRUE)
  progressr::handlers(study_progress_handler(interval = 0))
  out <- capture.output(st <- withr_opts(
    convergence_study(soft_truth(), n = c(150, 300), reps = 2, k = 3, sd = 0.1, seed = 3,
                      progress = TRUE)))
  expect_s3_class(st, "moe_study")
  # one line at the start, one per task, one at the end; never a carriage return
  expect_false(any(grepl("\r", out)))
  expect_match(out[1], "^  0/4 tasks, started at [0-9]{2}:[0-9]{2}:[0-9]{2}$")
  expect_match(out[2:4], "^  [1-3]/4 tasks, [0-9]+ s elapsed, ~[0-9]+ s left$")
  expect_match(out[length(out)], "^  4/4 tasks, [0-9]+ s elapsed, done$")
  # a long interval keeps the start and the end only
  progressr::handlers(study_progress_handler(interval = 3600))
  out <- capture.output(st <- withr_opts(
    convergence_study(soft_truth(), n = c(150, 300), reps = 2, k = 3, sd = 0.1, seed = 3,
                      progress = TRUE)))
  expect_length(out, 2L)
  expect_identical(sigmoe:::format_seconds(c(59.6)), "1 min 0 s")
  expect_identical(sigmoe:::format_seconds(3725), "1 h 2 min")
  expect_identical(sigmoe:::format_seconds(4), "4 s")
  expect_error(study_progress_handler(interval = -1), "`interval` must be")
  expect_error(study_progress_handler(file = "log.txt"),
               "`file` must be \"\" \\(standard output\\) or a connection")
  # the script of the main job reports through it
  script <- system.file("scripts", "figure1.R", package = "sigmoe")
  skip_if(script == "", "the installed package has no scripts/figure1.R")
  code <- readLines(script)
  expect_true(any(grepl("progressr::handlers(study_progress_handler(", code, fixed = TRUE)))
  expect_true(any(grepl("progress = TRUE", code, fixed = TRUE)))
})

test_that("paper_table1 has one row per setting and expert and reuses given studies", {
  skip_on_cran()
  tab <- withr_opts(paper_table1(reps = 2, n = c(300, 600, 1200), experts = c("relu", "constant"),
                                 B = 20, progress = FALSE))
  expect_s3_class(tab, "moe_table1")
  expect_identical(nrow(tab), 6L)
  expect_setequal(unique(tab$setting),
                  c("sigmoid, zero slope", "sigmoid, non-zero slope", "softmax"))
  expect_identical(tab$regime[tab$setting == "sigmoid, zero slope"][1], "zero_slope")
  expect_identical(tab$regime[tab$setting == "softmax"][1], "nonzero_slope")
  studies <- attr(tab, "studies")
  expect_setequal(names(studies), c("zero_slope", "zero_slope_constant", "same_data",
                                    "same_data_constant"))
  # the slope of a cell is the rate_table slope of that gate and expert in its study
  rt <- rate_table(studies$same_data, losses = "expert_error1", B = 20)
  expect_equal(tab$slope[tab$setting == "softmax" & tab$expert == "relu"],
               rt$slope[rt$gating == "softmax" & rt$expert == "relu"])
  again <- paper_table1(studies = studies, experts = c("relu", "constant"), B = 20)
  expect_equal(again$slope, tab$slope)
  expect_output(print(tab), "Predicted by the theory")
  expect_error(paper_table1(studies = list(1)), "`studies` must be a named list")
  expect_error(paper_table1(studies = studies, experts = "gelu", B = 20),
               "no study of the zero_slope design with the gelu expert")
  expect_error(paper_table1(experts = "cubic"), "`experts` must be a character vector")
  expect_error(paper_table1(studies = list(zero_slope = 1)), "`studies` must be a named list")
  # a misspelt loss is caught before any study runs: a study given these
  # sizes would fail on `n` first
  expect_error(paper_table1(loss = "nope", n = "not sizes"), "`loss` must be one of")
})
