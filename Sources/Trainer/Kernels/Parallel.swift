import Dispatch

/// Splits row-independent work across the configured threads.
///
/// BLAS already uses every thread inside matrix products; the elementwise kernels between them
/// (LayerNorm, GELU, softmaxes) would otherwise run on one core. Each chunk handles whole rows,
/// so results do not depend on the number of threads.
enum Parallel {
    /// Threads the elementwise kernels may use; set together with the BLAS thread count.
    nonisolated(unsafe) static var threadCount = 1

    /// Calls `body` on consecutive ranges covering 0..<count, concurrently when worthwhile.
    /// `cost` estimates the work of one item in scalar operations, to keep tiny jobs serial.
    @inline(__always)
    static func forEachRange(count: Int, cost: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(threadCount, count)
        guard threads > 1, count * cost >= 32_768 else {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            // The chunks write disjoint rows; the compiler cannot see that through raw pointers.
            let shared = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: threads) { chunk in
                let lower = count * chunk / threads, upper = count * (chunk + 1) / threads
                if lower < upper { shared.value(lower..<upper) }
            }
        }
    }
}

extension Parallel {
    /// Runs `body(lane)` for lanes 0..<count on as many threads, and returns when all are done.
    static func runLanes(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
        }
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
