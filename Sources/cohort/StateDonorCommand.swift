import StateSync
import ArgumentParser
import Collaboration
import DHT
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Node
import Peer

/// `cohort bench state-donor` (hidden): one donor of `cohort bench state-download`, serving a
/// random state that every donor with the same `--seed` and `--bytes` holds too.
///
/// Prints `ready <peer id hex> <port>`, serves until stdin says `quit` or closes, then prints
/// `served <chunk replies>` and exits.
struct StateDonorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-donor",
        abstract: "One donor of 'cohort bench state-download' (started by it).",
        shouldDisplay: false
    )

    @Option(help: "Size of the state in bytes.")
    var bytes: Int

    @Option(help: "Seed of the state's random bytes.")
    var seed: UInt64

    @Option(help: "Address to listen on.")
    var listen = "127.0.0.1"

    func validate() throws {
        guard StateDownloadBenchCommand.stateSizes.contains(bytes) else {
            throw ValidationError("--bytes must be between 1 and \(StateDownloadBenchCommand.stateSizes.upperBound)")
        }
    }

    func run() async throws {
        var logger = Logger(label: "cohort.bench.state-donor") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let server = StateServer(keep: 1)
        server.publish(StateSnapshot(step: StateDownloadBenchCommand.step, bytes: Self.state(bytes: bytes, seed: seed)))
        let served = NIOLockedValueBox(0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        var settings = DHTService.Settings()
        settings.transport.listen = try HostPort.parse("\(listen):0")
        var random = SystemRandomNumberGenerator()
        let service = try await DHTService.start(identity: PeerIdentity(using: &random), settings: settings, eventLoop: eventLoop,
                                                 logger: logger) { request in
            eventLoop.makeCompletedFuture {
                if request.frame.type == .stateRequest { served.withLockedValue { $0 += 1 } }
                return try server.answer(request.frame)
            }
        }
        print("ready \(service.peerID.bytes.hexString) \(service.endpoint.port)")
        while let line = readLine(), line != "quit" {}
        print("served \(served.withLockedValue { $0 })")
        await service.shutdown()
        try await group.shutdownGracefully()
    }

    /// The state every donor of one bench serves: `bytes` random bytes from `seed`.
    static func state(bytes: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: bytes) { buffer, count in
            for start in stride(from: 0, to: bytes, by: 8) {
                withUnsafeBytes(of: random.next()) { word in
                    for offset in 0..<min(8, bytes - start) { buffer[start + offset] = word[offset] }
                }
            }
            count = bytes
        }
    }
}
