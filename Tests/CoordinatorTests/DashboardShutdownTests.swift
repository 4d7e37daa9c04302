import Logging
import NIOCore
import NIOPosix
import Testing
@testable import Coordinator

@Suite(.timeLimit(.minutes(1)))
struct DashboardShutdownTests {
    @Test func shutdownLetsAnInFlightRequestFinishAndRefusesNewConnections() async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let (gateStream, gate) = AsyncStream.makeStream(of: Void.self)
        let status = SampleStatuses.hostile
        // A grace period far longer than the test needs: on a machine loaded by the other
        // suites, the steps between shutdown and the answer have taken over the default 5 s.
        let server = try await DashboardServer.bind(
            settings: .init(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(40)), logger: quietLogger,
            rounds: { _ in RoundPage(rounds: [], nextSince: nil) }
        ) {
            arrived.yield()
            for await _ in gateStream { break }
            return status
        }
        let port = server.port
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            async let inFlight = LoopbackHTTPClient.request("/api/status", port: port)
            for await _ in arrivals { break }

            server.shutdown()
            await #expect(throws: (any Error).self) {
                _ = try await LoopbackHTTPClient.request("/", port: port)
            }
            gate.yield()
            #expect(try await inFlight.statusCode == 200)
            try await group.waitForAll()
        }
    }

    @Test func shutdownBeforeRunClosesTheListener() async throws {
        let server = try await DashboardServer.bind(
            settings: .init(host: "127.0.0.1", port: 0), logger: quietLogger,
            rounds: { _ in RoundPage(rounds: [], nextSince: nil) }
        ) { SampleStatuses.hostile }
        server.shutdown()
        try await server.run()
        await #expect(throws: (any Error).self) {
            _ = try await LoopbackHTTPClient.request("/", port: server.port)
        }
    }
}
