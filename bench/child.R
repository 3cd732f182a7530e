# For the benchmarks that compare two builds of sigmoe in child processes
# (bench/task.R, bench/rescaled.R): the child loads sigmoe from the library
# named after --child in its arguments, and gets its namespace.
child_namespace <- function(args) {
  lib <- args[which(args == "--child") + 1L]
  .libPaths(c(lib, .libPaths()))
  suppressPackageStartupMessages(library(sigmoe))
  asNamespace("sigmoe")
}
