import CohortBase
import StateSync
import ArgumentParser
import Collaboration
import DHT
import Foundation
import Logging
import NIOPosix
import Node
import Peer
import Wire

/// `cohort bench state-download`: a joiner downloads a random state from K donor processes
/// and the bench reports how long it took, to check the multi-donor claim (with k donors on
/// equal links a joiner downloads about k times faster than from one).
///
/// The donors are this binary's hidden `bench state-donor`, on 127.0.0.1 by default. With
/// `--donor-host NETNS@ADDRESS` each donor runs in a network namespace made beforehand
/// (`scripts/faults/state-download-bench.sh` builds them, each behind a rate-limited link), and the
/// joiner runs wherever this command does. Every run uses a fresh joiner, so connecting and
/// the handshakes are timed too.
struct StateDownloadBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-download",
        abstract: "Time a state download from K donor processes (loopback, or donors in network namespaces).",
        discussion: "On loopback every process shares this machine's cores, so the figures measure CPU, not links."
    )

    static let stateSizes = 1...(16 << 30)
    static let step = 1
    static let seed: UInt64 = 7

    @Option(help: "Donor processes on 127.0.0.1 (ignored with --donor-host).")
    var donors = 1

    @Option(help: "Size of the state in bytes.")
    var bytes = 32 << 20

    @Option(help: "Timed downloads.")
    var runs = 3

    @Option(name: .customLong("donor-host"), parsing: .singleValue,
            help: "NETNS@ADDRESS: start a donor in network namespace NETNS, listening on ADDRESS (repeat for more donors).")
    var donorHosts: [String] = []

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (1...64).contains(donors) else { throw ValidationError("--donors must be between 1 and 64") }
        guard Self.stateSizes.contains(bytes) else { throw ValidationError("--bytes must be between 1 and \(Self.stateSizes.upperBound)") }
        guard (1...100).contains(runs) else { throw ValidationError("--runs must be between 1 and 100") }
        guard donorHosts.count <= 64 else { throw ValidationError("at most 64 --donor-host values") }
        _ = try donorHosts.map(DonorHost.init(parsing:))
    }

    func run() async throws {
        let hosts = try donorHosts.map(DonorHost.init(parsing:))
        let arguments = ["bench", "state-donor", "--bytes", "\(bytes)", "--seed", "\(Self.seed)"]
        var workers: [WorkerProcess] = []
        defer { workers.forEach { $0.stop() } }
        if hosts.isEmpty {
            for index in 0..<donors { workers.append(try WorkerProcess(name: "donor \(index)", arguments: arguments)) }
        } else {
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            for (index, host) in hosts.enumerated() {
                let inNamespace = ["ip", "netns", "exec", host.namespace, executable] + arguments + ["--listen", host.address]
                workers.append(try WorkerProcess(name: "donor \(index) in \(host.namespace)", executable: "/usr/bin/env",
                                                 arguments: inNamespace))
            }
        }
        let state = StateDonorCommand.state(bytes: bytes, seed: Self.seed)
        let hash = StateSnapshot(step: Self.step, bytes: state).hash
        var donorList: [(PeerID, Endpoint)] = []
        for (index, worker) in workers.enumerated() {
            let ready = try await worker.line(startingWith: "ready ", within: 120)
            let fields = ready.split(separator: " ")
            guard fields.count == 3, let idBytes = [UInt8](hex: fields[1]), let id = PeerID(bytes: idBytes), let port = UInt16(fields[2]) else {
                throw AllReduceBenchFailure(description: "\(worker.name) printed '\(ready)', not 'ready <id hex> <port>'")
            }
            donorList.append((id, Endpoint(host: hosts.isEmpty ? "127.0.0.1" : hosts[index].address, port: port)))
        }
        var seconds: [Double] = []
        for _ in 0..<runs {
            seconds.append(try await timeOneDownload(state: state, hash: hash, donors: donorList))
        }
        var served: [Int] = []
        for worker in workers {
            worker.send("quit")
            let line = try await worker.line(startingWith: "served ", within: 60)
            guard let count = Int(line.dropFirst("served ".count)) else {
                throw AllReduceBenchFailure(description: "\(worker.name) printed '\(line)', not 'served <count>'")
            }
            served.append(count)
        }
        let report = StateDownloadBenchReport(donors: workers.count, bytes: bytes, links: hosts.isEmpty ? "loopback" : "netns",
                                              seconds: seconds, chunksServed: served)
        print(json ? try DHTBenchCommand.jsonString(report) : report.description)
    }

    /// One download by a fresh joiner; the seconds from asking for the manifest to the last chunk.
    private func timeOneDownload(state: [UInt8], hash: [UInt8], donors: [(PeerID, Endpoint)]) async throws -> Double {
        var logger = Logger(label: "cohort.bench.state-download") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var random = SystemRandomNumberGenerator()
        let joiner = try await DHTService.start(identity: PeerIdentity(using: &random), eventLoop: group.next(), logger: logger)
        let started = ContinuousClock.now
        let downloaded: [UInt8]
        do {
            downloaded = try await StateFetcher(transport: joiner.transport, logger: logger)
                .download(step: Self.step, hash: hash, byteCount: state.count, donors: donors)
        } catch {
            await joiner.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        let elapsed = ContinuousClock.now - started
        await joiner.shutdown()
        try await group.shutdownGracefully()
        guard downloaded == state else { throw AllReduceBenchFailure(description: "the downloaded state differs from the donors'") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

/// A `--donor-host` value: the namespace a donor runs in and the address it listens on there.
struct DonorHost {
    let namespace: String
    let address: String

    init(parsing text: String) throws {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValidationError("--donor-host '\(text)' is not NETNS@ADDRESS")
        }
        guard parts[0].allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--donor-host '\(text)': a namespace name has letters, digits, '-', '_' and '.' only")
        }
        guard let endpoint = try? Endpoint(parsing: "\(parts[1]):1") else {
            throw ValidationError("--donor-host '\(text)': '\(parts[1])' is not a host name or address")
        }
        namespace = String(parts[0])
        address = endpoint.host
    }
}

/// What `cohort bench state-download` prints.
struct StateDownloadBenchReport: Encodable, CustomStringConvertible {
    let donors: Int
    let bytes: Int
    let links: String
    let seconds: [Double]
    /// Chunk replies each donor sent over all runs (the end game may ask for a chunk twice).
    let chunksServed: [Int]

    var medianSeconds: Double {
        let sorted = seconds.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    var megabytesPerSecond: Double { Double(bytes) / 1e6 / medianSeconds }

    enum CodingKeys: String, CodingKey {
        case donors, bytes, links, seconds, medianSeconds = "median_seconds", megabytesPerSecond = "megabytes_per_second"
        case chunksServed = "chunks_served"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(donors, forKey: .donors)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(links, forKey: .links)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(medianSeconds, forKey: .medianSeconds)
        try container.encode(megabytesPerSecond, forKey: .megabytesPerSecond)
        try container.encode(chunksServed, forKey: .chunksServed)
    }

    var description: String {
        let figures = String(format: "%.1f MB in %.2f s (median of %d), %.1f MB/s", Double(bytes) / 1e6, medianSeconds,
                             seconds.count, megabytesPerSecond)
        return "\(donors) donor(s) over \(links): \(figures); chunks served per donor: \(chunksServed.map(String.init).joined(separator: ", "))"
    }
}
