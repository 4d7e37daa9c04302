import Foundation

/// The child processes of `cohort demo`, stopped together: when the demo ends, and at once when
/// SIGINT or SIGTERM interrupts it. They sit in process groups of their own (Foundation starts
/// them so), so a signal to the demo reaches none of them unless it is passed on.
final class ChildProcessGroup: @unchecked Sendable {
    private let lock = NSLock()
    private var children: [ChildProcess] = []
    private var interruption: Int32?

    /// The signal that interrupted the demo, if one did.
    var interruptingSignal: Int32? { lock.withLock { interruption } }

    /// Starts a child as a member of the group; refused once the demo was interrupted, so that
    /// no child starts after the others were told to stop.
    func start(name: String, arguments: [String], log: URL) throws -> ChildProcess {
        try lock.withLock {
            if let interruption { throw DemoError("interrupted by signal \(interruption); \(name) not started") }
            let child = try ChildProcess(name: name, arguments: arguments, log: log)
            children.append(child)
            return child
        }
    }

    /// Sends every child SIGTERM without waiting, and lets no more start. Called from the
    /// signal handler; `stopAll()` then waits for the children.
    func interrupt(by signal: Int32) {
        let members = lock.withLock {
            interruption = interruption ?? signal
            return children
        }
        members.forEach { $0.requestStop() }
    }

    /// Stops every child together: SIGTERM to all, SIGKILL to any still running after `grace`
    /// seconds; reaps all.
    func stopAll(grace: TimeInterval = 20) {
        let members = lock.withLock { children }
        members.forEach { $0.requestStop() }
        let deadline = Date().addingTimeInterval(grace)
        members.forEach { $0.stop(grace: max(0, deadline.timeIntervalSinceNow)) }
    }
}
