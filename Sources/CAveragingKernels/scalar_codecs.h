#ifndef AVERAGING_SCALAR_CODECS_H
#define AVERAGING_SCALAR_CODECS_H

/* One value at a time: the definitions every implementation must match bit for bit. */

#include <math.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the averaging kernels read and write wire bytes as the host's little-endian values"
#endif

#define HALF_LARGEST_FINITE 0x7BFF
#define HALF_QUIET_NAN 0x7E00

static inline uint16_t load_u16(const uint8_t *bytes) {
    uint16_t value;
    memcpy(&value, bytes, 2);
    return value;
}

static inline void store_u16(uint8_t *bytes, uint16_t value) {
    memcpy(bytes, &value, 2);
}

static inline float load_f32(const uint8_t *bytes) {
    float value;
    memcpy(&value, bytes, 4);
    return value;
}

static inline void store_f32(uint8_t *bytes, float value) {
    memcpy(bytes, &value, 4);
}

static inline uint32_t float_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    return bits;
}

static inline float bits_float(uint32_t bits) {
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

static inline int is_finite(float value) {
    return (float_bits(value) & 0x7F800000) != 0x7F800000;
}

/* value >> shift, rounded to nearest, ties to even. */
static inline uint32_t rounded_shift(uint32_t value, uint32_t shift) {
    uint32_t truncated = value >> shift;
    uint32_t remainder = value & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    int rounds_up = remainder > halfway || (remainder == halfway && (truncated & 1));
    return truncated + (uint32_t)rounds_up;
}

static inline uint16_t half_bits(float value) {
    uint32_t bits = float_bits(value);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    int exponent = (int)((bits >> 23) & 0xFF);
    uint32_t mantissa = bits & 0x7FFFFF;
    if (exponent == 0xFF) {
        return sign | (mantissa != 0 ? HALF_QUIET_NAN : HALF_LARGEST_FINITE);
    }
    int half_exponent = exponent - 127 + 15;
    if (half_exponent >= 31) {
        return sign | HALF_LARGEST_FINITE;
    }
    if (half_exponent <= 0) {
        /* A half subnormal: the value in units of 2^-24 is the 24-bit significand shifted right. */
        int shift = 14 - half_exponent;
        if (shift > 24) {
            return sign;
        }
        uint32_t significand = exponent == 0 ? mantissa : (mantissa | 0x800000);
        return sign | (uint16_t)rounded_shift(significand, (uint32_t)shift);
    }
    uint32_t rounded = ((uint32_t)half_exponent << 10) + rounded_shift(mantissa, 13);
    return sign | (uint16_t)(rounded < HALF_LARGEST_FINITE ? rounded : HALF_LARGEST_FINITE);
}

/* The exact float of a half; a NaN comes back quiet, as the F16C instruction returns it. */
static inline float half_value(uint16_t half) {
    uint32_t sign = (uint32_t)(half & 0x8000) << 16;
    uint32_t exponent = (half >> 10) & 0x1F;
    uint32_t mantissa = half & 0x3FF;
    if (exponent == 0) {
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) {
        return bits_float(sign | 0x7F800000 | (mantissa != 0 ? 0x400000 : 0) | mantissa << 13);
    }
    return bits_float(sign | (exponent + 112) << 23 | mantissa << 13);
}

/* max|x| / 127 over a block; NaN when the block holds a non-finite value. */
static inline float block_scale(const float *block, size_t length) {
    float largest = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_finite(block[i])) {
            return NAN;
        }
        float magnitude = fabsf(block[i]);
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest / 127.0f;
}

static inline int scale_quantises(float scale) {
    return scale > 0 && is_finite(scale);
}

static inline int8_t quantise(float value, float scale) {
    float code = rintf(value / scale);
    code = code < -127.0f ? -127.0f : (code > 127.0f ? 127.0f : code);
    return (int8_t)code;
}

#endif
