@preconcurrency import Glibc
import Foundation

/// Makes the `cohort` processes that a command starts (the demo's coordinator and peers, the
/// benches' workers) stop once that command is gone, even when a SIGKILL gave it no chance to
/// stop them itself.
///
/// The parent names itself in the child's environment, and the child checks every second that
/// it is still that process's child. Not PR_SET_PDEATHSIG: Linux sends that signal when the
/// *thread* that started the child exits, and Foundation starts a child on whichever thread
/// calls `run()`, often a pool thread that exits while the parent lives on.
enum ParentWatch {
    static let variable = "COHORT_PARENT_PID"

    /// This process's environment with the entry that ties a child to this process.
    static var childEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.merging([variable: String(getpid())]) { $1 }
    }

    /// In a process started with `childEnvironment`: once the parent is gone (also when it died
    /// before this process started), stops this process as SIGTERM does, and kills it if that
    /// takes longer than `grace` seconds.
    static func stopWithParent(grace: UInt32 = 30) {
        guard let value = getenv(variable), let parent = pid_t(String(cString: value)) else { return }
        unsetenv(variable)
        // A parent that handles SIGINT and SIGTERM itself passes them on ignored; this process
        // starts with the usual dispositions until its command installs its own handlers.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        Thread.detachNewThread {
            while getppid() == parent { sleep(1) }
            kill(getpid(), SIGTERM)
            sleep(grace)
            kill(getpid(), SIGKILL)
        }
    }
}
