import NIOConcurrencyHelpers
import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The future's value, nil when it fails, or nil as soon as the waiting task is cancelled.
    ///
    /// `get()` ignores cancellation, so a task group whose work is done would still wait for a
    /// request to a silent peer until its transport timeout; this lets it leave at once (the
    /// request itself runs on and its result is dropped).
    func valueUnlessCancelled() async -> Value? {
        let waiter = NIOLockedValueBox(CancellableWait<Value>.notWaiting)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelledAlready = waiter.withLockedValue { wait in
                    guard case .notWaiting = wait else { return true }
                    wait = .waiting(continuation)
                    return false
                }
                if cancelledAlready {
                    continuation.resume(returning: nil)
                    return
                }
                whenComplete { result in
                    waiter.withLockedValue { $0.take() }?.resume(returning: try? result.get())
                }
            }
        } onCancel: {
            waiter.withLockedValue { $0.take() }?.resume(returning: nil)
        }
    }
}

/// Who resumes a wait on a future: the future's completion or the task's cancellation, only the first.
private enum CancellableWait<Value: Sendable> {
    case notWaiting
    case waiting(CheckedContinuation<Value?, Never>)
    case done

    /// The continuation to resume, once; later calls get nil.
    mutating func take() -> CheckedContinuation<Value?, Never>? {
        switch self {
        case .waiting(let continuation):
            self = .done
            return continuation
        case .notWaiting:
            self = .done
            return nil
        case .done:
            return nil
        }
    }
}
