#ifndef COHORT_COPENBLAS_SHIM_H
#define COHORT_COPENBLAS_SHIM_H

#if __has_include(<cblas.h>)
#include <cblas.h>
#elif __has_include(<openblas/cblas.h>)
#include <openblas/cblas.h>
#else
#error "OpenBLAS headers not found: install them with 'apt-get install libopenblas-dev' (or run 'make deps')"
#endif

#endif
