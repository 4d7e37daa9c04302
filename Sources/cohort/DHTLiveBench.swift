import CohortBase
import DHT
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import Wire

/// `cohort bench dht --live`: real nodes on 127.0.0.1 with OS-chosen ports, real handshakes
/// and encrypted connections; measures how long the network takes to form and the latency of
/// stores and gets.
enum DHTLiveBench {
    struct Report: Encodable {
        let nodes: Int
        let bootstrapSeconds: Double
        let stores: Int
        let storeP50Ms: Double
        let storeP90Ms: Double
        let gets: Int
        let getSuccessRate: Double
        let getP50Ms: Double
        let getP90Ms: Double

        enum CodingKeys: String, CodingKey {
            case nodes, stores, gets
            case bootstrapSeconds = "bootstrap_seconds"
            case storeP50Ms = "store_p50_ms", storeP90Ms = "store_p90_ms"
            case getSuccessRate = "get_success_rate"
            case getP50Ms = "get_p50_ms", getP90Ms = "get_p90_ms"
        }
    }

    /// Starts `nodes` nodes (each joining through the first), then runs `records` puts and
    /// `lookups` gets from random nodes, one at a time.
    static func run(nodes: Int, records: Int, lookups: Int, seed: UInt64) async throws -> Report {
        var logger = Logger(label: "cohort.bench")
        logger.logLevel = .error
        let group = MultiThreadedEventLoopGroup(numberOfThreads: min(2, System.coreCount))
        var services: [DHTService] = []
        do {
            let report = try await measure(nodes: nodes, records: records, lookups: lookups, seed: seed,
                                           group: group, logger: logger, services: &services)
            for service in services { await service.shutdown() }
            try await group.shutdownGracefully()
            return report
        } catch {
            for service in services { await service.shutdown() }
            try await group.shutdownGracefully()
            throw error
        }
    }

    private static func measure(nodes: Int, records: Int, lookups: Int, seed: UInt64, group: MultiThreadedEventLoopGroup,
                                logger: Logger, services: inout [DHTService]) async throws -> Report {
        var generator = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        let bootstrapStart = clock.now
        for index in 0..<nodes {
            let service = try await DHTService.start(identity: PeerIdentity(using: &generator), eventLoop: group.next(), logger: logger)
            services.append(service)
            _ = try await service.bootstrap(index == 0 ? [] : [services[0].endpoint])
        }
        let bootstrapSeconds = seconds(clock.now - bootstrapStart)

        let expiresAt = SystemClock().now().wall + .seconds(600)
        var storeTimes: [Double] = []
        var keys: [RecordKey] = []
        for number in 0..<records {
            let writer = services[Int(generator.next() % UInt64(nodes))]
            let key = RecordKey(hashing: "bench/live/\(number)")
            let started = clock.now
            _ = try await writer.put(key: key, subkey: writer.peerID.bytes, value: Array("value \(number)".utf8), expiresAt: expiresAt)
            storeTimes.append(seconds(clock.now - started) * 1000)
            keys.append(key)
        }
        var getTimes: [Double] = []
        var found = 0
        for _ in 0..<lookups {
            let reader = services[Int(generator.next() % UInt64(nodes))]
            let key = keys[Int(generator.next() % UInt64(keys.count))]
            let started = clock.now
            let records = try await reader.get(key)
            getTimes.append(seconds(clock.now - started) * 1000)
            if !records.isEmpty { found += 1 }
        }
        return Report(nodes: nodes, bootstrapSeconds: bootstrapSeconds, stores: records,
                      storeP50Ms: percentile(storeTimes, 0.5), storeP90Ms: percentile(storeTimes, 0.9),
                      gets: lookups, getSuccessRate: Double(found) / Double(max(1, lookups)),
                      getP50Ms: percentile(getTimes, 0.5), getP90Ms: percentile(getTimes, 0.9))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Nearest-rank percentile.
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }

    static func describe(_ report: Report) -> String {
        func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }
        return """
            Live DHT: \(report.nodes) nodes on 127.0.0.1 (TCP, authenticated and encrypted)
              bootstrap   \(String(format: "%.3f", report.bootstrapSeconds)) s for all nodes to start and join
              store       p50 \(ms(report.storeP50Ms)), p90 \(ms(report.storeP90Ms)) over \(report.stores) puts
              get         p50 \(ms(report.getP50Ms)), p90 \(ms(report.getP90Ms)) over \(report.gets) gets, \
            \(String(format: "%.1f%%", report.getSuccessRate * 100)) found
              hivemind 1.1.12 here: bootstrap 2.7 s, store p50 13 ms, get p50 2.2 ms
            """
    }
}
