#include "averaging_kernels.h"
#include "vectorised.h"

#if defined(__x86_64__)
#define DISPATCH(call) (averaging_kernels_vectorised() ? call##_avx2 : call##_portable)
#else
#define DISPATCH(call) call##_portable
#endif

void averaging_f16_encode(const float *values, size_t count, uint8_t *bytes) {
    DISPATCH(averaging_f16_encode)(values, count, bytes);
}

void averaging_f16_decode(const uint8_t *bytes, size_t count, float *values) {
    DISPATCH(averaging_f16_decode)(bytes, count, values);
}

void averaging_f16_accumulate(const uint8_t *bytes, size_t count, float weight, float *acc) {
    DISPATCH(averaging_f16_accumulate)(bytes, count, weight, acc);
}

void averaging_f32_accumulate(const uint8_t *bytes, size_t count, float weight, float *acc) {
    DISPATCH(averaging_f32_accumulate)(bytes, count, weight, acc);
}

void averaging_int8_encode(const float *values, size_t count, size_t block_size, uint8_t *bytes) {
    DISPATCH(averaging_int8_encode)(values, count, block_size, bytes);
}

void averaging_int8_decode(const uint8_t *bytes, size_t count, size_t block_size, float *values) {
    DISPATCH(averaging_int8_decode)(bytes, count, block_size, values);
}

void averaging_int8_accumulate(const uint8_t *bytes, size_t count, size_t block_size, float weight, float *acc) {
    DISPATCH(averaging_int8_accumulate)(bytes, count, block_size, weight, acc);
}

size_t averaging_nonfinite_count(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    return DISPATCH(averaging_nonfinite_count)(bytes, count, sum_of_squares);
}

size_t averaging_f16_nonfinite_count(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    return DISPATCH(averaging_f16_nonfinite_count)(bytes, count, sum_of_squares);
}

size_t averaging_int8_nonfinite_count(const uint8_t *bytes, size_t count, size_t block_size, double *sum_of_squares) {
    return DISPATCH(averaging_int8_nonfinite_count)(bytes, count, block_size, sum_of_squares);
}
