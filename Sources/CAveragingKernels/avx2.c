#include "averaging_kernels.h"
#include "scalar_codecs.h"
#include "vectorised.h"

#if defined(__x86_64__)

#include <immintrin.h>

#pragma clang fp contract(off)

/* No "fma" in the target: a fused multiply-add would round once where the portable code
 * rounds twice, and every implementation must give the same bits. */
#define VECTOR_TARGET __attribute__((target("avx2,f16c")))

VECTOR_TARGET void averaging_f16_encode_avx2(const float *values, size_t count, uint8_t *bytes) {
    const __m256 limit = _mm256_set1_ps(65504.0f), negative_limit = _mm256_set1_ps(-65504.0f);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 value = _mm256_loadu_ps(values + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(value, value, _CMP_UNORD_Q)) != 0) {
            /* The instruction keeps a NaN's payload; the format wants the one quiet NaN. */
            averaging_f16_encode_portable(values + i, 8, bytes + 2 * i);
            continue;
        }
        __m256 clamped = _mm256_min_ps(_mm256_max_ps(value, negative_limit), limit);
        _mm_storeu_si128((__m128i *)(bytes + 2 * i), _mm256_cvtps_ph(clamped, _MM_FROUND_TO_NEAREST_INT));
    }
    averaging_f16_encode_portable(values + i, count - i, bytes + 2 * i);
}

VECTOR_TARGET void averaging_f16_decode_avx2(const uint8_t *bytes, size_t count, float *values) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(values + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(bytes + 2 * i))));
    }
    averaging_f16_decode_portable(bytes + 2 * i, count - i, values + i);
}

VECTOR_TARGET void averaging_f16_accumulate_avx2(const uint8_t *bytes, size_t count, float weight, float *acc) {
    const __m256 weights = _mm256_set1_ps(weight);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 decoded = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(bytes + 2 * i)));
        _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(weights, decoded)));
    }
    averaging_f16_accumulate_portable(bytes + 2 * i, count - i, weight, acc + i);
}

VECTOR_TARGET void averaging_f32_accumulate_avx2(const uint8_t *bytes, size_t count, float weight, float *acc) {
    const __m256 weights = _mm256_set1_ps(weight);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 decoded = _mm256_loadu_ps((const float *)(bytes + 4 * i));
        _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(weights, decoded)));
    }
    averaging_f32_accumulate_portable(bytes + 4 * i, count - i, weight, acc + i);
}

VECTOR_TARGET static float block_scale_avx2(const float *block, size_t length) {
    const __m256i magnitude_mask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i largest_finite = _mm256_set1_epi32(0x7F7FFFFF);
    __m256 largest = _mm256_setzero_ps();
    __m256i nonfinite = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        __m256i magnitude = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(block + i)), magnitude_mask);
        nonfinite = _mm256_or_si256(nonfinite, _mm256_cmpgt_epi32(magnitude, largest_finite));
        largest = _mm256_max_ps(largest, _mm256_castsi256_ps(magnitude));
    }
    if (!_mm256_testz_si256(nonfinite, nonfinite)) {
        return NAN;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, largest);
    float result = 0;
    for (int lane = 0; lane < 8; lane++) {
        result = lanes[lane] > result ? lanes[lane] : result;
    }
    for (; i < length; i++) {
        if (!is_finite(block[i])) {
            return NAN;
        }
        float magnitude = fabsf(block[i]);
        result = magnitude > result ? magnitude : result;
    }
    return result / 127.0f;
}

VECTOR_TARGET static inline __m256i quantise8(const float *values, __m256 scale) {
    const __m256 limit = _mm256_set1_ps(127.0f), negative_limit = _mm256_set1_ps(-127.0f);
    __m256 code = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(values), scale),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(code, negative_limit), limit));
}

VECTOR_TARGET void averaging_int8_encode_avx2(const float *values, size_t count, size_t block_size, uint8_t *bytes) {
    /* Packing 32-bit codes to bytes works within 128-bit lanes; this puts the groups of four
     * back in element order. */
    const __m256i lane_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        const float *block = values + start;
        float scale = block_scale_avx2(block, length);
        store_f32(bytes, scale);
        bytes += 4;
        size_t i = 0;
        if (scale_quantises(scale)) {
            const __m256 scales = _mm256_set1_ps(scale);
            for (; i + 32 <= length; i += 32) {
                __m256i low = _mm256_packs_epi32(quantise8(block + i, scales), quantise8(block + i + 8, scales));
                __m256i high = _mm256_packs_epi32(quantise8(block + i + 16, scales), quantise8(block + i + 24, scales));
                __m256i packed = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(low, high), lane_order);
                _mm256_storeu_si256((__m256i *)(bytes + i), packed);
            }
            for (; i < length; i++) {
                bytes[i] = (uint8_t)quantise(block[i], scale);
            }
        } else {
            memset(bytes, 0, length);
        }
        bytes += length;
    }
}

VECTOR_TARGET static inline __m256 dequantise8(const uint8_t *codes, __m256 scale) {
    __m256i wide = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)codes));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(wide), scale);
}

VECTOR_TARGET void averaging_int8_decode_avx2(const uint8_t *bytes, size_t count, size_t block_size, float *values) {
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        const __m256 scales = _mm256_set1_ps(scale);
        bytes += 4;
        size_t i = 0;
        for (; i + 8 <= length; i += 8) {
            _mm256_storeu_ps(values + start + i, dequantise8(bytes + i, scales));
        }
        for (; i < length; i++) {
            values[start + i] = (float)(int8_t)bytes[i] * scale;
        }
        bytes += length;
    }
}

VECTOR_TARGET void averaging_int8_accumulate_avx2(const uint8_t *bytes, size_t count, size_t block_size, float weight,
                                                  float *acc) {
    const __m256 weights = _mm256_set1_ps(weight);
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        const __m256 scales = _mm256_set1_ps(scale);
        bytes += 4;
        size_t i = 0;
        for (; i + 8 <= length; i += 8) {
            float *target = acc + start + i;
            _mm256_storeu_ps(target, _mm256_add_ps(_mm256_loadu_ps(target), _mm256_mul_ps(weights, dequantise8(bytes + i, scales))));
        }
        for (; i < length; i++) {
            acc[start + i] = acc[start + i] + weight * ((float)(int8_t)bytes[i] * scale);
        }
        bytes += length;
    }
}

/* Counts the lanes of `values` that are not finite and adds the finite lanes' squares, in
 * double precision, to the two partial sums. */
VECTOR_TARGET static inline size_t count_and_square(__m256 values, __m256d *low_sum, __m256d *high_sum) {
    const __m256i magnitude_mask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i infinity = _mm256_set1_epi32(0x7F800000);
    __m256i bits = _mm256_castps_si256(values);
    __m256i finite = _mm256_cmpgt_epi32(infinity, _mm256_and_si256(bits, magnitude_mask));
    __m256 kept = _mm256_castsi256_ps(_mm256_and_si256(bits, finite));
    __m256d low = _mm256_cvtps_pd(_mm256_castps256_ps128(kept));
    __m256d high = _mm256_cvtps_pd(_mm256_extractf128_ps(kept, 1));
    *low_sum = _mm256_add_pd(*low_sum, _mm256_mul_pd(low, low));
    *high_sum = _mm256_add_pd(*high_sum, _mm256_mul_pd(high, high));
    return 8 - (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(finite)));
}

VECTOR_TARGET static inline double total(__m256d low_sum, __m256d high_sum) {
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(low_sum, high_sum));
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

VECTOR_TARGET size_t averaging_nonfinite_count_avx2(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    __m256d low_sum = _mm256_setzero_pd(), high_sum = _mm256_setzero_pd();
    size_t nonfinite = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        nonfinite += count_and_square(_mm256_loadu_ps((const float *)(bytes + 4 * i)), &low_sum, &high_sum);
    }
    double tail_sum;
    nonfinite += averaging_nonfinite_count_portable(bytes + 4 * i, count - i, &tail_sum);
    *sum_of_squares = total(low_sum, high_sum) + tail_sum;
    return nonfinite;
}

VECTOR_TARGET size_t averaging_f16_nonfinite_count_avx2(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    __m256d low_sum = _mm256_setzero_pd(), high_sum = _mm256_setzero_pd();
    size_t nonfinite = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 values = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(bytes + 2 * i)));
        nonfinite += count_and_square(values, &low_sum, &high_sum);
    }
    double tail_sum;
    nonfinite += averaging_f16_nonfinite_count_portable(bytes + 2 * i, count - i, &tail_sum);
    *sum_of_squares = total(low_sum, high_sum) + tail_sum;
    return nonfinite;
}

VECTOR_TARGET size_t averaging_int8_nonfinite_count_avx2(const uint8_t *bytes, size_t count, size_t block_size,
                                                         double *sum_of_squares) {
    __m256d low_sum = _mm256_setzero_pd(), high_sum = _mm256_setzero_pd();
    size_t nonfinite = 0;
    double tail_sum = 0;
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        const __m256 scales = _mm256_set1_ps(scale);
        bytes += 4;
        size_t i = 0;
        for (; i + 8 <= length; i += 8) {
            nonfinite += count_and_square(dequantise8(bytes + i, scales), &low_sum, &high_sum);
        }
        for (; i < length; i++) {
            float value = (float)(int8_t)bytes[i] * scale;
            if (is_finite(value)) {
                tail_sum += (double)value * (double)value;
            } else {
                nonfinite++;
            }
        }
        bytes += length;
    }
    *sum_of_squares = total(low_sum, high_sum) + tail_sum;
    return nonfinite;
}

int averaging_kernels_vectorised(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

#else

int averaging_kernels_vectorised(void) {
    return 0;
}

#endif
