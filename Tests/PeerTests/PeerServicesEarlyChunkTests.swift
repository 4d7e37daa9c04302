import Averaging
import DHT
import Logging
import NIOConcurrencyHelpers
import NIOEmbedded
import Testing
import Wire
@testable import Peer

/// Chunks for rounds a peer has not formed yet are held per sender.
@Suite struct PeerServicesEarlyChunkTests {
    let me = DHTID(bytes: [UInt8](repeating: 9, count: 32))!
    let flooder = DHTID(bytes: [UInt8](repeating: 1, count: 32))!
    let honest = DHTID(bytes: [UInt8](repeating: 2, count: 32))!

    @Test func onePeerFloodingChunksForRoundsThatNeverFormDoesNotRefuseAnothersEarlyChunk() throws {
        // Before, the 64 MiB held for early chunks was shared: one peer sending 64 chunks of
        // 1 MiB for a round that never forms made this peer refuse every other member's.
        let services = PeerServices(eventLoop: EmbeddedEventLoop(), logger: Logger(label: "test"), ownID: me, sameHostCopies: false)
        let values = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<64 {
            _ = services.receive(chunk(round: 666, index: index, from: flooder, values: values), from: flooder, local: false)
        }
        let answer = NIOLockedValueBox<String?>(nil)
        services.receive(chunk(round: 7, index: 0, from: honest, values: values), from: honest, local: false).whenSuccess { frame in
            answer.withLockedValue { $0 = Self.errorMessage(frame) }
        }
        #expect(answer.withLockedValue { $0 } == nil, "the chunk waits for its round")

        // This member's next round answers every chunk held for other rounds.
        let plan = try #require(GroupPlan(step: 1, elementCount: 0, members: [declaration(me), declaration(honest)]))
        _ = services.startRound(plan: plan, me: Averaging.PeerID(bytes: me.bytes)!, vector: UnsafeMutableBufferPointer(start: nil, count: 0),
                                settings: AllReduceRound.Settings(), endpoints: [:])
        #expect(answer.withLockedValue { $0 } == "not a member of round 7")
    }

    private func chunk(round: UInt64, index: Int, from sender: DHTID, values: [UInt8]) -> PartChunk {
        PartChunk(roundID: round, part: 0, chunk: index, sender: Averaging.PeerID(bytes: sender.bytes)!, compression: .none,
                  bytes: values[...])
    }

    private func declaration(_ peer: DHTID) -> Declaration {
        Declaration(step: 1, peer: Averaging.PeerID(bytes: peer.bytes)!, address: "127.0.0.1:1", bandwidth: 1, clientMode: false, samples: 1)
    }

    private static func errorMessage(_ frame: Frame) -> String? {
        guard case .error(let reply) = try? DHTMessage(frame: frame) else { return nil }
        return reply.message
    }
}
