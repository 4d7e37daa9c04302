import NIOCore
import Testing
@testable import Coordinator

/// Slow and greedy clients: each holds the dashboard's connections only for a bounded time.
/// The waits are generous against the configured bounds, since CI runs on two busy cores.
@Suite(.timeLimit(.minutes(1)))
struct DashboardLimitTests {
    static let patience = Duration.seconds(20)
    static let status = SampleStatuses.hostile

    @Test func clientThatStallsInItsRequestIsClosedAfterTheTimeout() async throws {
        try await withDashboard(settings: .init(host: "127.0.0.1", port: 0, requestTimeout: .seconds(1)),
                                serving: { Self.status }) { server in
            let answer = try await LoopbackHTTPClient.answerBeforeClose(
                "GET /api/status HTTP/1.1\r\nHost: a\r\n", within: Self.patience, port: server.port)
            #expect(answer == "")
        }
    }

    @Test func clientThatTricklesHeaderBytesIsClosedAfterTheTimeout() async throws {
        try await withDashboard(settings: .init(host: "127.0.0.1", port: 0, requestTimeout: .seconds(1)),
                                serving: { Self.status }) { server in
            let answer = try await LoopbackHTTPClient.answerBeforeClose(
                "GET /api/status HTTP/1.1\r\nHost: a\r\nX-Slow: ", trickleInterval: .milliseconds(200),
                within: Self.patience, port: server.port)
            #expect(answer == "")
        }
    }

    /// The timeout must outlast the time a busy machine takes from accepting the connection to
    /// reading the request, or the request itself would be cut off; 5 s does on two busy cores.
    @Test func keptAliveConnectionIsClosedAfterIdlingForTheTimeout() async throws {
        try await withDashboard(settings: .init(host: "127.0.0.1", port: 0, requestTimeout: .seconds(5)),
                                serving: { Self.status }) { server in
            let answer = try await LoopbackHTTPClient.answerBeforeClose(
                "GET /api/status HTTP/1.1\r\nHost: a\r\n\r\n", within: Self.patience, port: server.port)
            #expect(answer?.hasPrefix("HTTP/1.1 200 OK") == true)
        }
    }

    @Test func connectionBeyondTheCapIsClosedAtOnceAndServedOnceAnotherCloses() async throws {
        try await withDashboard(settings: .init(host: "127.0.0.1", port: 0, maximumConnections: 2, requestTimeout: .seconds(300)),
                                serving: { Self.status }) { server in
            let held = [try await LoopbackHTTPClient.connectIdle(port: server.port),
                        try await LoopbackHTTPClient.connectIdle(port: server.port)]
            defer { held.forEach { $0.close(promise: nil) } }

            let refused = try await LoopbackHTTPClient.answerBeforeClose(
                "GET /api/status HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", within: Self.patience, port: server.port)
            #expect(refused == "")

            try await held[0].close()
            #expect(await Self.statusCodeOnceServed(port: server.port) == 200)
        }
    }

    /// Asks for the status until it is answered, or `patience` has passed.
    private static func statusCodeOnceServed(port: Int) async -> Int? {
        let giveUp = ContinuousClock.now + patience
        while ContinuousClock.now < giveUp {
            if let reply = try? await LoopbackHTTPClient.request("/api/status", port: port) {
                return reply.statusCode
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
