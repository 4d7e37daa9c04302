import Foundation
import Testing
@testable import Coordinator

/// The dashboard as a person sees it: served with a realistic status and photographed by
/// headless Chromium through `scripts/dashboard-screenshot.sh`.
@Suite(.timeLimit(.minutes(2)))
struct DashboardScreenshotTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// Where the screenshot is left for people to look at (ignored by git with the rest of .build).
    static let screenshot = packageRoot.appendingPathComponent(".build/dashboard-screenshot.png")

    static var chromiumInstalled: Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/chromium") }
    }

    @Test(.enabled(if: chromiumInstalled, "chromium is not installed; `apt-get install -y chromium` enables this test"))
    func dashboardRendersInHeadlessChromium() async throws {
        let status = SampleStatuses.realistic()
        try await withDashboard(serving: { status }) { server in
            let script = Self.packageRoot.appendingPathComponent("scripts/dashboard-screenshot.sh").path
            let exitCode = try await Self.run("/bin/bash", [script, String(server.port), Self.screenshot.path])
            #expect(exitCode == 0)
        }
        let size = try FileManager.default.attributesOfItem(atPath: Self.screenshot.path)[.size] as? Int ?? 0
        #expect(size > 10_000, "the screenshot at \(Self.screenshot.path) is only \(size) bytes")
    }

    /// Runs a program without blocking a thread of the cooperative pool while it works.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }
}
