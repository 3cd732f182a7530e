#!/usr/bin/env bash
# Installs what sigmoe needs on a fresh Debian machine with R: OpenBLAS (which
# R then uses for BLAS/LAPACK) and the prebuilt R packages the vignettes,
# tests and studies use. Safe to run again.
set -euo pipefail
pkgs="libopenblas0-pthread pandoc qpdf r-cran-testthat r-cran-roxygen2 r-cran-knitr
      r-cran-rmarkdown r-cran-future r-cran-future.apply r-cran-progressr
      r-cran-minpack.lm r-cran-ggplot2 r-cran-mass r-cran-generics
      r-cran-future.batchtools"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing > /dev/null
fi
