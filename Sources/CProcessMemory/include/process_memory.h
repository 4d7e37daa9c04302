#ifndef COHORT_PROCESS_MEMORY_H
#define COHORT_PROCESS_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/// Copies `length` bytes at `address` in process `pid` into `destination` with one
/// process_vm_readv(2). Returns 0 when every byte was copied, otherwise the errno (EFAULT for a
/// short copy, ENOSYS where the call does not exist).
int cohort_process_read(int32_t pid, uint64_t address, void *destination, size_t length);

/// Lets every process of this user read this one with process_vm_readv(2), as Yama's
/// ptrace_scope 1 otherwise allows only to ancestors (prctl PR_SET_PTRACER_ANY). Returns 0, or
/// the errno: EINVAL where the kernel runs without Yama (nothing to allow), ENOSYS off Linux.
int cohort_allow_readers_of_this_user(void);

/// A full memory fence: a lease's new words are visible to other processes before any store
/// this process makes after it (x86-64 orders stores anyway; weaker CPUs need the fence).
void cohort_memory_fence(void);

#endif
