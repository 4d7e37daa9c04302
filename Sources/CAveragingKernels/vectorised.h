#ifndef AVERAGING_VECTORISED_H
#define AVERAGING_VECTORISED_H

/* The AVX2 + F16C implementations (x86-64 only); call them only when
 * `averaging_kernels_vectorised()` is non-zero. */

#include <stddef.h>
#include <stdint.h>

void averaging_f16_encode_avx2(const float *values, size_t count, uint8_t *bytes);
void averaging_f16_decode_avx2(const uint8_t *bytes, size_t count, float *values);
void averaging_f16_accumulate_avx2(const uint8_t *bytes, size_t count, float weight, float *acc);
void averaging_f32_accumulate_avx2(const uint8_t *bytes, size_t count, float weight, float *acc);
void averaging_int8_encode_avx2(const float *values, size_t count, size_t block_size, uint8_t *bytes);
void averaging_int8_decode_avx2(const uint8_t *bytes, size_t count, size_t block_size, float *values);
void averaging_int8_accumulate_avx2(const uint8_t *bytes, size_t count, size_t block_size, float weight, float *acc);
size_t averaging_nonfinite_count_avx2(const uint8_t *bytes, size_t count, double *sum_of_squares);
size_t averaging_f16_nonfinite_count_avx2(const uint8_t *bytes, size_t count, double *sum_of_squares);
size_t averaging_int8_nonfinite_count_avx2(const uint8_t *bytes, size_t count, size_t block_size, double *sum_of_squares);

#endif
