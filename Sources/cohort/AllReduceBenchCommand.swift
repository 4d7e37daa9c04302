import ArgumentParser
import Foundation
import Peer

/// `cohort bench allreduce`: N peer processes on 127.0.0.1 (or, with `--hosts` and `--wrap`,
/// on other hosts such as network namespaces) average a vector over the real transport, and the
/// bench reports the median round time and the bus bandwidth.
///
/// The parent starts the workers (this binary's hidden `bench allreduce-worker`), hands every
/// one the same member list, and checks that all of them end every round with bit-identical
/// averages. Bus bandwidth is bytes × 2(N−1)/N ÷ time, the figure NCCL and gloo benchmarks
/// quote, so the numbers compare across implementations.
struct AllReduceBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Average a vector across peer processes on 127.0.0.1 and measure round time and bus bandwidth.",
        discussion: "Each worker runs one event loop thread. One warm-up round (connections, handshakes) is not timed."
    )

    @Option(help: "Peer processes.")
    var peers = 4

    @OptionGroup var round: AllReduceRoundOptions

    @Option(help: "Timed rounds.")
    var rounds = 5

    @Option(help: "Comma-separated IPv4 addresses the workers listen on, one per peer (default: all 127.0.0.1).")
    var hosts: String?

    @Option(help: ArgumentHelp(
        "A command that starts each worker where it listens, {i} standing for its index (e.g. 'ip netns exec lab-h{i}').",
        discussion: "Split at spaces; the worker's own command line follows it."))
    var wrap: String?

    @Option(help: "Comma-separated bandwidths the peers declare, in Mbit/s, one per peer: parts follow them (default: equal).")
    var bandwidthsMbit: String?

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Start every timed round on every worker at once, after the last one finished the round before (as gloo's benchmark does with a barrier).",
        discussion: "Without it rounds run back to back and a round's time includes the spread of the members' starts."))
    var lockstep = true

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (2...64).contains(peers) else { throw ValidationError("--peers must be between 2 and 64") }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 1000") }
        _ = try listenHosts()
        _ = try declaredBandwidths()
        if let wrap, !wrap.contains("{i}") && hosts != nil {
            throw ValidationError("--wrap must contain {i}, the worker's index, to start workers on different hosts")
        }
    }

    /// Where each worker listens.
    func listenHosts() throws -> [String] {
        guard let hosts else { return Array(repeating: "127.0.0.1", count: peers) }
        let list = hosts.split(separator: ",").map { String($0) }
        guard list.count == peers else { throw ValidationError("--hosts names \(list.count) addresses for \(peers) peers") }
        for host in list where !Self.isIPv4(host) {
            throw ValidationError("--hosts: '\(host)' is not an IPv4 address")
        }
        return list
    }

    /// What each worker declares, in bytes per second.
    func declaredBandwidths() throws -> [UInt64] {
        guard let bandwidthsMbit else { return Array(repeating: AllReduceBenchPeer.Member.defaultBandwidth, count: peers) }
        let list = bandwidthsMbit.split(separator: ",").map { Double($0) }
        guard list.count == peers else { throw ValidationError("--bandwidths-mbit names \(list.count) bandwidths for \(peers) peers") }
        return try list.map { mbit in
            guard let mbit, mbit >= 0.01, mbit <= 1_000_000 else {
                throw ValidationError("--bandwidths-mbit: each must be a number of Mbit/s in [0.01, 1000000]")
            }
            return UInt64(mbit * 1_000_000 / 8)
        }
    }

    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in UInt8(part).map { String($0) == part } ?? false }
    }

    func run() async throws {
        let hosts = try listenHosts(), bandwidths = try declaredBandwidths()
        var workers: [WorkerProcess] = []
        defer { workers.forEach { $0.stop() } }
        for index in 0..<peers {
            let arguments = ["bench", "allreduce-worker", "--rounds", "\(rounds)", "--seed", "\(index + 1)", "--listen", hosts[index]]
                + (lockstep ? ["--lockstep"] : []) + round.arguments
            if let wrap {
                let command = wrap.replacingOccurrences(of: "{i}", with: "\(index)").split(separator: " ").map(String.init)
                    + [WorkerProcess.ownExecutable] + arguments
                workers.append(try WorkerProcess(name: "worker \(index)", executable: "/usr/bin/env", arguments: command))
            } else {
                workers.append(try WorkerProcess(name: "worker \(index)", arguments: arguments))
            }
        }
        var members: [AllReduceBenchPeer.Member] = []
        for (index, worker) in workers.enumerated() {
            let ready = try await worker.line(startingWith: "ready ", within: 60)
            guard var member = BenchMemberList.member(fromReady: ready, samples: 1) else {
                throw AllReduceBenchFailure(description: "\(worker.name) printed '\(ready)', not 'ready <id hex> <port>'")
            }
            member.host = hosts[index]
            member.bandwidth = bandwidths[index]
            members.append(member)
        }
        let memberLine = BenchMemberList.line(members)
        workers.forEach { $0.send(memberLine) }
        for worker in workers {
            _ = try await worker.line(startingWith: "connected", within: 60)
        }
        workers.forEach { $0.send("go") }
        if lockstep {
            // Every round starts when the last member finished the one before, on every worker
            // at once: a round's time is then its own, not the spread of the members' starts.
            for index in 0..<rounds {
                for worker in workers {
                    _ = try await worker.lines(startingWith: "round ", count: index + 1, within: 60 + round.roundTimeout)
                }
                workers.forEach { $0.send("go") }
            }
        }
        let allowed = 60 + Double(rounds + 1) * round.roundTimeout
        for worker in workers {
            _ = try await worker.line(startingWith: "done", within: allowed)
        }
        let report = try AllReduceBenchReport(peers: peers, round: round, lockstep: lockstep, workers: workers)
        print(json ? try DHTBenchCommand.jsonString(report) : report.description)
    }
}
