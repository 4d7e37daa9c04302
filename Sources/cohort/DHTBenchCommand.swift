import ArgumentParser
import DHT
import Foundation

/// `cohort bench dht`: the in-process Kademlia simulation, with the figures docs quote, or
/// with `--live` real nodes on 127.0.0.1.
struct DHTBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Simulate a Kademlia network and measure lookup hops and get success after churn.",
        discussion: "With --live, real nodes run on 127.0.0.1 instead, and the bench measures bootstrap time and store/get latency."
    )

    @Flag(help: "Run real nodes on 127.0.0.1 instead of the simulation (--churn and --loss do not apply).")
    var live = false

    @Option(help: "Simulated nodes.")
    var nodes = 1000

    @Option(help: "Fraction of nodes removed after the records are stored, in [0, 1).")
    var churn = 0.3

    @Option(help: "Gets measured after the removal.")
    var lookups = 1000

    @Option(help: "Records stored before the removal.")
    var records = 100

    @Option(help: "Seed for identities, latencies and choices; a run is reproducible from it.")
    var seed: UInt64 = 1

    @Option(help: "Probability that a simulated message is lost.")
    var loss = 0.0

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if live {
            guard (2...64).contains(nodes) else { throw ValidationError("--live runs between 2 and 64 nodes") }
        }
        guard (2..<65535).contains(nodes) else { throw ValidationError("--nodes must be between 2 and 65534") }
        guard (0..<1).contains(churn) else { throw ValidationError("--churn must be in [0, 1)") }
        guard (0..<1).contains(loss) else { throw ValidationError("--loss must be in [0, 1)") }
        guard lookups >= 1, records >= 1 else { throw ValidationError("--lookups and --records must be at least 1") }
    }

    func run() async throws {
        if live {
            let report = try await DHTLiveBench.run(nodes: nodes, records: records, lookups: lookups, seed: seed)
            print(json ? try Self.jsonString(report) : DHTLiveBench.describe(report))
            return
        }
        var configuration = DHTSimulation.Configuration(nodes: nodes, churn: churn, lookups: lookups, records: records, seed: seed)
        configuration.network.lossRate = loss
        let started = Date()
        let report = DHTSimulation.run(configuration)
        let wallSeconds = Date().timeIntervalSince(started)
        print(json ? try Self.jsonString(report) : Self.describe(report, wallSeconds: wallSeconds))
    }

    static func jsonString(_ report: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func describe(_ report: DHTSimulationReport, wallSeconds: Double) -> String {
        func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
        let verdict = report.successRate >= 0.99 && Double(report.hopsP99) <= report.hopsBound ? "meets" : "misses"
        return """
            DHT simulation: \(report.nodes) nodes, k = \(report.k), α = \(report.alpha), \(percent(report.churn)) removed (\(report.removedNodes) nodes)
              records stored    \(report.recordsPlaced) of \(report.records) placed before the removal
              gets              \(report.successes) of \(report.lookups) found their record (\(percent(report.successRate)))
              hops              p50 \(report.hopsP50), p90 \(report.hopsP90), p99 \(report.hopsP99), max \(report.hopsMax) \
            (bound 2·log2(N)/log2(k)+2 = \(String(format: "%.2f", report.hopsBound)))
              queries per get   \(String(format: "%.1f", report.queriesPerGet))
              requests          \(report.requests), of which \(report.timeouts) timed out
              routing table     \(String(format: "%.1f", report.meanRoutingTableSize)) contacts per live node
              time              \(String(format: "%.1f", report.virtualSeconds)) s virtual, \(String(format: "%.1f", wallSeconds)) s wall
              target            \(verdict) success ≥ 99% and p99 hops ≤ bound
            """
    }
}
