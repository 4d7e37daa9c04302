#ifndef AVERAGING_KERNELS_H
#define AVERAGING_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The inner loops of gradient compression and reduction (Sources/Averaging/Compression).
 *
 * Every entry point without a suffix picks, once per process, an AVX2 + F16C implementation
 * when the CPU has both and the portable one otherwise; the `_portable` entry points are the
 * portable ones, exported so tests can check that both give the same bits. Byte buffers are
 * little-endian wire data at any alignment. Accumulations compute `acc + weight * decoded`
 * with two roundings (never fused), so every implementation gives the same result. */

/* Whether the AVX2 + F16C implementations run on this CPU. */
int averaging_kernels_vectorised(void);

/* float → IEEE half, round to nearest even; magnitudes beyond 65504 (and ±∞) clamp to ±65504;
 * NaN becomes the quiet half NaN 0x7E00 with its sign. */
void averaging_f16_encode(const float *values, size_t count, uint8_t *bytes);
void averaging_f16_decode(const uint8_t *bytes, size_t count, float *values);
void averaging_f16_accumulate(const uint8_t *bytes, size_t count, float weight, float *acc);

void averaging_f32_accumulate(const uint8_t *bytes, size_t count, float weight, float *acc);

/* Blockwise int8: per block of `block_size` values a float32 scale s = max|x| / 127, then one
 * int8 round(x / s) per value; a block holding a non-finite value gets scale NaN and codes 0. */
void averaging_int8_encode(const float *values, size_t count, size_t block_size, uint8_t *bytes);
void averaging_int8_decode(const uint8_t *bytes, size_t count, size_t block_size, float *values);
void averaging_int8_accumulate(const uint8_t *bytes, size_t count, size_t block_size, float weight, float *acc);

/* The number of NaN and infinite float32 values at `bytes` (any alignment); `*sum_of_squares` gets the sum of the finite values'
 * squares in double precision (summed in an order of this function's choosing). */
size_t averaging_nonfinite_count(const uint8_t *bytes, size_t count, double *sum_of_squares);

/* The same counts over the values encoded chunks decode to, without decoding them into memory. */
size_t averaging_f16_nonfinite_count(const uint8_t *bytes, size_t count, double *sum_of_squares);
size_t averaging_int8_nonfinite_count(const uint8_t *bytes, size_t count, size_t block_size, double *sum_of_squares);

void averaging_f16_encode_portable(const float *values, size_t count, uint8_t *bytes);
void averaging_f16_decode_portable(const uint8_t *bytes, size_t count, float *values);
void averaging_f16_accumulate_portable(const uint8_t *bytes, size_t count, float weight, float *acc);
void averaging_f32_accumulate_portable(const uint8_t *bytes, size_t count, float weight, float *acc);
void averaging_int8_encode_portable(const float *values, size_t count, size_t block_size, uint8_t *bytes);
void averaging_int8_decode_portable(const uint8_t *bytes, size_t count, size_t block_size, float *values);
size_t averaging_nonfinite_count_portable(const uint8_t *bytes, size_t count, double *sum_of_squares);
size_t averaging_f16_nonfinite_count_portable(const uint8_t *bytes, size_t count, double *sum_of_squares);
size_t averaging_int8_nonfinite_count_portable(const uint8_t *bytes, size_t count, size_t block_size,
                                               double *sum_of_squares);
void averaging_int8_accumulate_portable(const uint8_t *bytes, size_t count, size_t block_size, float weight,
                                        float *acc);

#endif
