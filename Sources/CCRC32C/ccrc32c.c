#include "ccrc32c.h"

#include <string.h>

#if defined(__x86_64__)

int ccrc32c_has_instruction(void) {
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t ccrc32c_update_with_instruction(uint32_t state, const uint8_t *bytes, size_t length) {
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
