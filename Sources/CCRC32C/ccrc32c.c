#include "ccrc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)

int ccrc32c_has_instruction(void) {
    return __builtin_cpu_supports("sse4.2");
}

/* One crc32 instruction depends on the previous one's result (3 cycles of latency), so a
 * single stream runs at a third of the instruction's throughput. Long inputs are cut into three
 * lanes of LANE bytes computed side by side and joined with shift(): the register after LANE
 * zero bytes, which is linear in the register and so a lookup in four byte tables. */
#define LANE 1024

static uint32_t shift_tables[4][256];
static pthread_once_t shift_tables_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t advance_over_zeros(uint32_t state) {
    uint64_t wide = state;
    for (int i = 0; i < LANE / 8; i++) {
        wide = __builtin_ia32_crc32di(wide, 0);
    }
    return (uint32_t)wide;
}

static void build_shift_tables(void) {
    for (int byte = 0; byte < 4; byte++) {
        for (uint32_t value = 0; value < 256; value++) {
            shift_tables[byte][value] = advance_over_zeros(value << (8 * byte));
        }
    }
}

static inline uint32_t shift(uint32_t state) {
    return shift_tables[0][state & 0xff] ^ shift_tables[1][(state >> 8) & 0xff]
        ^ shift_tables[2][(state >> 16) & 0xff] ^ shift_tables[3][state >> 24];
}

__attribute__((target("sse4.2")))
uint32_t ccrc32c_update_with_instruction(uint32_t state, const uint8_t *bytes, size_t length) {
    if (length >= 3 * LANE) {
        pthread_once(&shift_tables_once, build_shift_tables);
        while (length >= 3 * LANE) {
            uint64_t first = state, second = 0, third = 0;
            for (size_t offset = 0; offset < LANE; offset += 8) {
                uint64_t a, b, c;
                memcpy(&a, bytes + offset, 8);
                memcpy(&b, bytes + LANE + offset, 8);
                memcpy(&c, bytes + 2 * LANE + offset, 8);
                first = __builtin_ia32_crc32di(first, a);
                second = __builtin_ia32_crc32di(second, b);
                third = __builtin_ia32_crc32di(third, c);
            }
            state = shift(shift((uint32_t)first) ^ (uint32_t)second) ^ (uint32_t)third;
            bytes += 3 * LANE;
            length -= 3 * LANE;
        }
    }
    uint64_t wide = state;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (length > 0) {
        narrow = __builtin_ia32_crc32qi(narrow, *bytes);
        bytes++;
        length--;
    }
    return narrow;
}

#else

int ccrc32c_has_instruction(void) {
    return 0;
}

uint32_t ccrc32c_update_with_instruction(uint32_t state, const uint8_t *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return state;
}

#endif
