import Foundation
import Logging
import Testing
@testable import Coordinator

/// Runs a dashboard on 127.0.0.1 with an OS-chosen port for the duration of `body`, and always
/// shuts it down and waits for `run()` to return.
func withDashboard(
    settings: DashboardServer.Settings = .init(host: "127.0.0.1", port: 0),
    rounds: @escaping @Sendable (RoundsQuery) async throws -> RoundPage = { _ in RoundPage(rounds: [], nextSince: nil) },
    serving status: @escaping @Sendable () async -> CoordinatorStatus,
    _ body: (DashboardServer) async throws -> Void
) async throws {
    let server = try await DashboardServer.bind(settings: settings, logger: quietLogger, rounds: rounds, status: status)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        defer { server.shutdown() }
        try await body(server)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct DashboardServerTests {
    let status = SampleStatuses.hostile

    @Test func serverReportsTheOSChosenPort() async throws {
        try await withDashboard(serving: { status }) { server in
            #expect(server.port > 0)
            #expect(server.localAddress.port == server.port)
        }
    }

    @Test func pageShowsTheStatusWithEveryStringEscaped() async throws {
        try await withDashboard(serving: { status }) { server in
            let reply = try await LoopbackHTTPClient.request("/", port: server.port)
            #expect(reply.statusCode == 200)
            #expect(reply.headers["content-type"] == "text/html; charset=utf-8")
            #expect(reply.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!reply.body.contains("<script"))
            #expect(reply.body.contains("demo &lt;b&gt;run&lt;/b&gt; &amp; co"))
            #expect(reply.body.contains("9f3c&quot;&gt;&lt;img src=x&gt;"))
            #expect(!reply.body.contains("<img"))
            #expect(reply.body.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
            #expect(reply.body.contains("/runs/demo/step-2.ckpt"))
            #expect(reply.body.components(separatedBy: "<svg ").count == 3)
        }
    }

    @Test func statusJSONUsesSnakeCaseAndDecodesToTheSameStatus() async throws {
        try await withDashboard(serving: { status }) { server in
            let reply = try await LoopbackHTTPClient.request("/api/status", port: server.port)
            #expect(reply.statusCode == 200)
            #expect(reply.headers["content-type"] == "application/json")
            #expect(reply.body.contains("\"samples_per_second\""))
            #expect(reply.body.contains("\"last_checkpoint_step\""))
            let decoded = try CoordinatorStatus.statusJSONDecoder().decode(CoordinatorStatus.self, from: Data(reply.body.utf8))
            #expect(decoded == status)
        }
    }

    @Test func metricsExposeTheStatusInPrometheusFormat() async throws {
        try await withDashboard(serving: { status }) { server in
            let reply = try await LoopbackHTTPClient.request("/metrics", port: server.port)
            #expect(reply.statusCode == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let values = PrometheusText.samples(reply.body)
            #expect(values["cohort_step"] == 3)
            #expect(values["cohort_peers"] == 1)
            #expect(values["cohort_rounds_total"] == 2)
            #expect(values["cohort_samples_total"] == 134)
            #expect(values["cohort_round_duration_seconds"] == 0.5)
            #expect(values["cohort_loss"] == 2.625)
            #expect(values["cohort_failed_parts_total"] == 2)
            #expect(values["cohort_hash_mismatches_total"] == 1)
            #expect(values["cohort_target_batch_size"] == 64)
            #expect(reply.body.contains("# TYPE cohort_rounds_total counter"))
            #expect(reply.body.contains("# TYPE cohort_loss gauge"))
        }
    }

    @Test func unknownPathIsNotFound() async throws {
        try await withDashboard(serving: { status }) { server in
            let get = try await LoopbackHTTPClient.request("/nope", port: server.port)
            let post = try await LoopbackHTTPClient.request("/nope", method: "POST", port: server.port)
            #expect(get.statusCode == 404)
            #expect(post.statusCode == 404)
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE"])
    func nonGETOnAKnownPathIsMethodNotAllowed(method: String) async throws {
        try await withDashboard(serving: { status }) { server in
            let reply = try await LoopbackHTTPClient.request("/api/status", method: method, port: server.port)
            #expect(reply.statusCode == 405)
            #expect(reply.headers["allow"] == "GET")
        }
    }

    @Test func requestLargerThanTheBoundIsRejected() async throws {
        try await withDashboard(serving: { status }) { server in
            let padding = String(repeating: "a", count: 20 * 1024)
            let raw = try await LoopbackHTTPClient.exchange(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(padding)\r\n\r\n", port: server.port)
            #expect(try LoopbackHTTPClient.parse(raw).statusCode == 413)
        }
    }

    @Test func keepAliveConnectionAnswersPipelinedRequestsInOrder() async throws {
        try await withDashboard(serving: { status }) { server in
            let raw = try await LoopbackHTTPClient.exchange(
                "GET /api/status HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                port: server.port)
            let first = raw.range(of: "HTTP/1.1 200 OK")
            let second = raw.range(of: "HTTP/1.1 404 Not Found")
            #expect(first != nil && second != nil)
            if let first, let second { #expect(first.lowerBound < second.lowerBound) }
        }
    }
}

/// Reads `name value` sample lines of a Prometheus text exposition (metrics without labels).
enum PrometheusText {
    static func samples(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = Double(fields[1]) {
                values[String(fields[0])] = value
            }
        }
        return values
    }
}

/// A logger that drops everything, so test output shows only the tests.
let quietLogger = Logger(label: "dashboard-test", factory: { _ in SwiftLogNoOpLogHandler() })
