#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (SSE 4.2 on x86-64) that
/// `ccrc32c_update_with_instruction` can use.
int ccrc32c_has_instruction(void);

/// Advances a CRC-32C (Castagnoli) register over `length` bytes with the CPU's instruction:
/// `state` and the result are the register as the table-driven algorithm keeps it (the
/// checksum's complement). Call only when `ccrc32c_has_instruction()` is non-zero.
uint32_t ccrc32c_update_with_instruction(uint32_t state, const uint8_t *bytes, size_t length);

#endif
