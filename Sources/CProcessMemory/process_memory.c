#define _GNU_SOURCE
#include "process_memory.h"

#include <errno.h>
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/uio.h>
#endif

int cohort_process_read(int32_t pid, uint64_t address, void *destination, size_t length) {
#if defined(__linux__)
    struct iovec local = { destination, length };
    struct iovec remote = { (void *)(uintptr_t)address, length };
    ssize_t copied = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
    if (copied < 0) return errno;
    return (size_t)copied == length ? 0 : EFAULT;
#else
    (void)pid; (void)address; (void)destination; (void)length;
    return ENOSYS;
#endif
}

int cohort_allow_readers_of_this_user(void) {
#if defined(__linux__) && defined(PR_SET_PTRACER)
    return prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}

void cohort_memory_fence(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
