import CohortBase
import Averaging
import Collaboration
import DHT
import Logging
import Node
import NIOConcurrencyHelpers
import NIOEmbedded
import Testing
import Wire
@testable import Peer

/// Chunks for rounds a peer has not formed yet are held per sender.
@Suite struct AllReduceDriverEarlyChunkTests {
    let me = PeerID(bytes: [UInt8](repeating: 9, count: 32))!
    let flooder = PeerID(bytes: [UInt8](repeating: 1, count: 32))!
    let honest = PeerID(bytes: [UInt8](repeating: 2, count: 32))!

    @Test func onePeerFloodingChunksForRoundsThatNeverFormDoesNotRefuseAnothersEarlyChunk() throws {
        // Before, the 64 MiB held for early chunks was shared: one peer sending 64 chunks of
        // 1 MiB for a round that never forms made this peer refuse every other member's.
        let handlers = PeerHandlers(eventLoop: EmbeddedEventLoop(), logger: Logger(label: "test"), ownID: me, sameHostCopies: false)
        let driver = handlers.allReduce
        let values = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<64 {
            _ = driver.receive(chunk(round: 666, index: index, from: flooder, values: values), from: flooder, local: false)
        }
        let answer = NIOLockedValueBox<String?>(nil)
        driver.receive(chunk(round: 7, index: 0, from: honest, values: values), from: honest, local: false).whenSuccess { frame in
            answer.withLockedValue { $0 = Self.errorMessage(frame) }
        }
        #expect(answer.withLockedValue { $0 } == nil, "the chunk waits for its round")

        // This member's next round answers every chunk held for other rounds.
        let plan = try #require(GroupPlan(step: 1, elementCount: 0, members: [declaration(me), declaration(honest)]))
        _ = driver.startRound(plan: plan, me: me, vector: UnsafeMutableBufferPointer(start: nil, count: 0),
                              settings: AllReduceRound.Settings(), endpoints: [:])
        #expect(answer.withLockedValue { $0 } == "not a member of round 7")
    }

    @Test func chunksForAStepThisPeerIsPastAreRefusedAtOnceAndHeldOnesWhenItPassesTheirs() {
        // Before, a member that declared after this peer had stepped alone sent it chunks that
        // were held until the member's round deadline (30 s), and the member then applied its
        // own gradient alone, forking the run.
        let handlers = PeerHandlers(eventLoop: EmbeddedEventLoop(), logger: Logger(label: "test"), ownID: me, sameHostCopies: false)
        let driver = handlers.allReduce
        handlers.publish(StateSnapshot(step: 5, bytes: [0, 0, 0, 0]))
        let late = NIOLockedValueBox<(code: UInt16, message: String)?>(nil)
        driver.receive(chunk(round: 40, step: 4, index: 0, from: honest, values: [0]), from: honest, local: false).whenSuccess { frame in
            late.withLockedValue { $0 = Self.error(frame) }
        }
        #expect(late.withLockedValue { $0 }?.code == TransportErrorCode.pastTheRound)
        #expect(late.withLockedValue { $0 }?.message == "past step 4: not in round 40")

        let early = NIOLockedValueBox<UInt16?>(nil)
        driver.receive(chunk(round: 41, step: 5, index: 0, from: honest, values: [0]), from: honest, local: false).whenSuccess { frame in
            early.withLockedValue { $0 = Self.error(frame)?.code }
        }
        #expect(early.withLockedValue { $0 } == nil, "this peer may still form the round of its own step")
        handlers.publish(StateSnapshot(step: 6, bytes: [0, 0, 0, 0]))
        #expect(early.withLockedValue { $0 } == TransportErrorCode.pastTheRound)
    }

    private func chunk(round: UInt64, step: UInt64 = 0, index: Int, from sender: PeerID, values: [UInt8]) -> PartChunk {
        PartChunk(roundID: round, step: step, part: 0, chunk: index, sender: sender, compression: .none,
                  bytes: values[...])
    }

    private func declaration(_ peer: PeerID) -> Declaration {
        Declaration(step: 1, peer: peer, address: "127.0.0.1:1", bandwidth: 1, clientMode: false, samples: 1)
    }

    private static func errorMessage(_ frame: Frame) -> String? {
        error(frame)?.message
    }

    private static func error(_ frame: Frame) -> (code: UInt16, message: String)? {
        guard case .error(let reply) = try? DHTMessage(frame: frame) else { return nil }
        return (reply.code, reply.message)
    }
}
