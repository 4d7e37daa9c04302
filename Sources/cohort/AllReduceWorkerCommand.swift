import CohortBase
import ArgumentParser
import Averaging
import Foundation
import Logging
import NIOPosix
import Peer
import Wire

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `cohort bench allreduce-worker` (hidden): one peer process of `cohort bench allreduce`, also
/// driven directly by the process-level fault tests.
///
/// Talks line by line. It prints `ready <peer id hex> <port>`, then reads one line
/// `members <id hex>:<port>:<samples>[:client][:host=<address>][:bandwidth=<bytes/s>],…` from
/// stdin (every worker gets the same list; `:client` marks a member in client mode, `host=` one
/// listening elsewhere than 127.0.0.1, `bandwidth=` the bandwidth it declares), opens
/// its connections and prints `connected`, waits for a line `go` (sent once every worker is
/// connected), then runs a warm-up round and `--rounds` timed rounds, printing
/// `started <round>` before and `round <json AllReduceBenchRound>` after each (the last with the
/// checksum of the averages), and `done` at the end. With `--lockstep` it waits for another
/// `go` before each round after the first, so that all members start every round together,
/// as they do after matchmaking; without it rounds run back to back. It then
/// stays connected until stdin says `quit` or closes, so that the averages it still has in
/// flight reach the members finishing after it.
struct AllReduceWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce-worker",
        abstract: "One peer of 'cohort bench allreduce' (started by it; reads the member list on stdin).",
        shouldDisplay: false
    )

    @OptionGroup var round: AllReduceRoundOptions

    @Option(help: "Timed rounds after the warm-up round.")
    var rounds = 5

    @Option(help: "Seed of this worker's random vector.")
    var seed: UInt64 = 1

    @Option(help: "Delay before every frame this worker sends, in milliseconds (to make rounds long in tests).")
    var frameDelayMs = 0

    @Flag(help: "Wait for a 'go' line on stdin before each round after the first.")
    var lockstep = false
    @Option(help: "Address to listen on (this host's address when the bench spans network namespaces).")
    var listen = "127.0.0.1"

    @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error or critical.")
    var logLevel = Logger.Level.warning

    func validate() throws {
        guard rounds >= 0 else { throw ValidationError("--rounds must not be negative") }
        guard frameDelayMs >= 0 else { throw ValidationError("--frame-delay-ms must not be negative") }
    }

    func run() async throws {
        var logger = Logger(label: "cohort.bench.worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = logLevel
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var settings = AllReduceBenchPeer.Settings(
            elementCount: round.size, round: round.roundSettings,
            frameDelay: frameDelayMs > 0 ? .milliseconds(Int64(frameDelayMs)) : nil, seed: seed,
            sameHostCopies: round.sameHostCopies)
        settings.listenHost = listen
        settings.chunkSizeFollowsPlan = round.chunkSize == nil
        let peer = try await AllReduceBenchPeer.start(settings: settings, eventLoop: group.next(), logger: logger)
        print("ready \(peer.peerID.bytes.hexString) \(peer.port)")
        do {
            guard let line = readLine(), let members = BenchMemberList.parse(line) else {
                throw AllReduceBenchFailure(description: "expected 'members <id hex>:<port>:<samples>[:client][:host=…][:bandwidth=…],…' on stdin")
            }
            try await runRounds(peer: peer, members: members)
        } catch {
            await peer.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await peer.shutdown()
        try await group.shutdownGracefully()
    }

    private func runRounds(peer: AllReduceBenchPeer, members: [AllReduceBenchPeer.Member]) async throws {
        try await peer.connect(to: members)
        print("connected")
        guard readLine() == "go" else { throw AllReduceBenchFailure(description: "expected 'go' on stdin") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for index in 0...rounds {
            if lockstep, index > 0, readLine() != "go" {
                throw AllReduceBenchFailure(description: "expected 'go' on stdin before round \(index)")
            }
            print("started \(index)")
            let outcome = try await peer.runRound(index, members: members, withChecksum: index == rounds)
            print("round " + String(decoding: try encoder.encode(outcome), as: UTF8.self))
        }
        print("done")
        // Averages this peer sent may still sit in its send buffers (or a test's delay queue):
        // closing now would cut them off from members still finishing the round.
        while let line = readLine(), line != "quit" {}
    }
}

/// The `members` line the parent sends every worker.
enum BenchMemberList {
    static func line(_ members: [AllReduceBenchPeer.Member]) -> String {
        "members " + members.map { member in
            var entry = "\(member.peer.bytes.hexString):\(member.port):\(member.samples)"
            if member.clientMode { entry += ":client" }
            if member.host != "127.0.0.1" { entry += ":host=\(member.host)" }
            if member.bandwidth != AllReduceBenchPeer.Member.defaultBandwidth { entry += ":bandwidth=\(member.bandwidth)" }
            return entry
        }.joined(separator: ",")
    }

    /// The member a worker's `ready <id hex> <port>` line announces.
    static func member(fromReady line: String, samples: UInt64) -> AllReduceBenchPeer.Member? {
        let fields = line.split(separator: " ")
        guard fields.count == 3, fields[0] == "ready" else { return nil }
        return parse("members \(fields[1]):\(fields[2]):\(samples)")?.first
    }

    static func parse(_ line: String) -> [AllReduceBenchPeer.Member]? {
        guard line.hasPrefix("members ") else { return nil }
        let members = line.dropFirst("members ".count).split(separator: ",").map { entry -> AllReduceBenchPeer.Member? in
            let fields = entry.split(separator: ":")
            guard fields.count >= 3, let bytes = [UInt8](hex: fields[0]), let peer = PeerID(bytes: bytes), let port = UInt16(fields[1]),
                  let samples = UInt64(fields[2]) else { return nil }
            var member = AllReduceBenchPeer.Member(peer: peer, port: port, samples: samples)
            for option in fields.dropFirst(3) {
                if option == "client" {
                    member.clientMode = true
                } else if option.hasPrefix("host="), !option.dropFirst(5).isEmpty {
                    member.host = String(option.dropFirst(5))
                } else if option.hasPrefix("bandwidth="), let bandwidth = UInt64(option.dropFirst(10)), bandwidth > 0 {
                    member.bandwidth = bandwidth
                } else {
                    return nil
                }
            }
            return member
        }
        return members.contains(nil) ? nil : members.compactMap { $0 }
    }
}

extension [UInt8] {
    /// Parses an even-length string of hex digits.
    init?(hex: Substring) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}
