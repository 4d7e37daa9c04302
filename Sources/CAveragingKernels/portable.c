#include "averaging_kernels.h"
#include "scalar_codecs.h"

#pragma clang fp contract(off)

void averaging_f16_encode_portable(const float *values, size_t count, uint8_t *bytes) {
    for (size_t i = 0; i < count; i++) {
        store_u16(bytes + 2 * i, half_bits(values[i]));
    }
}

void averaging_f16_decode_portable(const uint8_t *bytes, size_t count, float *values) {
    for (size_t i = 0; i < count; i++) {
        values[i] = half_value(load_u16(bytes + 2 * i));
    }
}

void averaging_f16_accumulate_portable(const uint8_t *bytes, size_t count, float weight, float *acc) {
    for (size_t i = 0; i < count; i++) {
        acc[i] = acc[i] + weight * half_value(load_u16(bytes + 2 * i));
    }
}

void averaging_f32_accumulate_portable(const uint8_t *bytes, size_t count, float weight, float *acc) {
    for (size_t i = 0; i < count; i++) {
        acc[i] = acc[i] + weight * load_f32(bytes + 4 * i);
    }
}

void averaging_int8_encode_portable(const float *values, size_t count, size_t block_size, uint8_t *bytes) {
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = block_scale(values + start, length);
        store_f32(bytes, scale);
        bytes += 4;
        int quantises = scale_quantises(scale);
        for (size_t i = 0; i < length; i++) {
            bytes[i] = quantises ? (uint8_t)quantise(values[start + i], scale) : 0;
        }
        bytes += length;
    }
}

void averaging_int8_decode_portable(const uint8_t *bytes, size_t count, size_t block_size, float *values) {
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        bytes += 4;
        for (size_t i = 0; i < length; i++) {
            values[start + i] = (float)(int8_t)bytes[i] * scale;
        }
        bytes += length;
    }
}

void averaging_int8_accumulate_portable(const uint8_t *bytes, size_t count, size_t block_size, float weight,
                                        float *acc) {
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        bytes += 4;
        for (size_t i = 0; i < length; i++) {
            acc[start + i] = acc[start + i] + weight * ((float)(int8_t)bytes[i] * scale);
        }
        bytes += length;
    }
}

size_t averaging_nonfinite_count_portable(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    size_t nonfinite = 0;
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        float value = load_f32(bytes + 4 * i);
        if (is_finite(value)) {
            sum += (double)value * (double)value;
        } else {
            nonfinite++;
        }
    }
    *sum_of_squares = sum;
    return nonfinite;
}

size_t averaging_f16_nonfinite_count_portable(const uint8_t *bytes, size_t count, double *sum_of_squares) {
    size_t nonfinite = 0;
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        float value = half_value(load_u16(bytes + 2 * i));
        if (is_finite(value)) {
            sum += (double)value * (double)value;
        } else {
            nonfinite++;
        }
    }
    *sum_of_squares = sum;
    return nonfinite;
}

size_t averaging_int8_nonfinite_count_portable(const uint8_t *bytes, size_t count, size_t block_size,
                                               double *sum_of_squares) {
    size_t nonfinite = 0;
    double sum = 0;
    for (size_t start = 0; start < count; start += block_size) {
        size_t length = count - start < block_size ? count - start : block_size;
        float scale = load_f32(bytes);
        bytes += 4;
        for (size_t i = 0; i < length; i++) {
            float value = (float)(int8_t)bytes[i] * scale;
            if (is_finite(value)) {
                sum += (double)value * (double)value;
            } else {
                nonfinite++;
            }
        }
        bytes += length;
    }
    *sum_of_squares = sum;
    return nonfinite;
}
