import ArgumentParser
import Foundation
import Peer

/// `cohort bench allreduce`: N peer processes on 127.0.0.1 average a vector over the real
/// transport, and the bench reports the median round time and the bus bandwidth.
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

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (2...64).contains(peers) else { throw ValidationError("--peers must be between 2 and 64") }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 1000") }
    }

    func run() async throws {
        var workers: [WorkerProcess] = []
        defer { workers.forEach { $0.stop() } }
        for index in 0..<peers {
            let arguments = ["bench", "allreduce-worker", "--rounds", "\(rounds)", "--seed", "\(index + 1)"] + round.arguments
            workers.append(try WorkerProcess(name: "worker \(index)", arguments: arguments))
        }
        var members: [AllReduceBenchPeer.Member] = []
        for worker in workers {
            let ready = try await worker.line(startingWith: "ready ", within: 60)
            guard let member = BenchMemberList.member(fromReady: ready, samples: 1) else {
                throw AllReduceBenchFailure(description: "\(worker.name) printed '\(ready)', not 'ready <id hex> <port>'")
            }
            members.append(member)
        }
        let memberLine = BenchMemberList.line(members)
        workers.forEach { $0.send(memberLine) }
        for worker in workers {
            _ = try await worker.line(startingWith: "connected", within: 60)
        }
        workers.forEach { $0.send("go") }
        let allowed = 60 + Double(rounds + 1) * round.roundTimeout
        for worker in workers {
            _ = try await worker.line(startingWith: "done", within: allowed)
        }
        let report = try AllReduceBenchReport(peers: peers, round: round, workers: workers)
        print(json ? try DHTBenchCommand.jsonString(report) : report.description)
    }
}
