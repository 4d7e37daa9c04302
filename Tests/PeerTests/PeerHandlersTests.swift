import CohortBase
import Averaging
import Collaboration
import DHT
import Logging
@testable import Node
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
@testable import StateSync
import Testing
import Wire
@testable import Peer

/// The peer's requests beside the DHT reach the handler of their family, on an embedded event loop.
@Suite struct PeerHandlersTests {
    let me = PeerID(bytes: [UInt8](repeating: 9, count: 32))!
    let member = PeerID(bytes: [UInt8](repeating: 2, count: 32))!

    private func handlers(sameHostCopies: Bool = false) -> PeerHandlers {
        PeerHandlers(eventLoop: EmbeddedEventLoop(), logger: Logger(label: "test"), ownID: me, sameHostCopies: sameHostCopies)
    }

    private func serve(_ handlers: PeerHandlers, _ type: MessageType, _ payload: [UInt8], from peer: PeerID) -> Result<Frame, any Error>? {
        let answer = NIOLockedValueBox<Result<Frame, any Error>?>(nil)
        handlers.router.serve(Transport.InboundRequest(frame: Frame(type: type, requestID: 1, payload: payload), peer: peer))
            .whenComplete { result in answer.withLockedValue { $0 = result } }
        return answer.withLockedValue { $0 }
    }

    @Test func aTypeNoHandlerServesFailsAsUnknown() throws {
        let handlers = handlers()
        for type in [MessageType.ping, .averagedPart, .stateChunk] {
            let answer = try #require(serve(handlers, type, [], from: member))
            #expect(throws: WireError.unknownMessageType) { try answer.get() }
        }
    }

    @Test func stateRequestsReachTheStateServerAndSeeWhatWasPublished() throws {
        let handlers = handlers()
        let snapshot = StateSnapshot(step: 3, bytes: [1, 2, 3, 4])
        let ask = StateManifestRequest(step: 3, stateHash: snapshot.hash).encoded
        let before = try #require(serve(handlers, .stateManifestRequest, ask, from: member)).get()
        #expect(Self.error(before)?.message == "no such state of step 3 here")

        handlers.publish(snapshot)
        let after = try #require(serve(handlers, .stateManifestRequest, ask, from: member)).get()
        #expect(after.type == .stateManifest)
    }

    @Test func updateRequestsReachTheUpdateServer() throws {
        let ask = UpdatesRequest(fromStep: 1, fromHash: [UInt8](repeating: 0, count: 32), toStep: 2,
                                 toHash: [UInt8](repeating: 0, count: 32)).encoded
        let answer = try #require(serve(handlers(), .updatesRequest, ask, from: member)).get()
        #expect(Self.error(answer)?.message == "no chain of updates from step 1 to step 2 here")
    }

    @Test func aChunkInAMemberMemoryIsRefusedUntilTheMemberIsProvenToRunHere() throws {
        let reference = PartChunkReference(roundID: 7, step: 1, part: 0, chunk: 0, sender: member, compression: .none,
                                           memory: MemoryReference(address: 4096, byteCount: 16, lease: 8192))
        let answer = try #require(serve(handlers(), .averagePartLocal, reference.encoded(), from: member)).get()
        #expect(Self.error(answer)?.code == TransportErrorCode.sameHostRefused)
        #expect(Self.error(answer)?.message == "same-host copy refused: not proven to run on this machine")
    }

    @Test func aProbeIsRefusedWhenSameHostCopiesAreOff() throws {
        let probe = [UInt8](repeating: 5, count: SameHostProof.secretLength)
        let answer = try #require(serve(handlers(), .sameHostProbe, probe, from: member)).get()
        #expect(Self.error(answer)?.code == TransportErrorCode.sameHostRefused)
        #expect(Self.error(answer)?.message == "same-host copy refused: same-host copies are off here")
    }

    @Test func aProofNamingThisProcessIsRefused() throws {
        let handlers = handlers()
        _ = try handlers.sameHost.peers.answer(probe: [UInt8](repeating: 5, count: SameHostProof.secretLength), from: member)
        let proof = SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: 4096, challenge: nil)
        let answer = try #require(serve(handlers, .sameHostProof, proof.encoded(), from: member)).get()
        #expect(Self.error(answer)?.code == TransportErrorCode.sameHostRefused)
        #expect(Self.error(answer)?.message.contains("named this process") == true)
        #expect(handlers.sameHost.peers.processID(of: member) == nil)
    }

    @Test func aChunkArrivingBeforeItsRoundIsAnsweredWithTheAverageOnceTheRoundStarts() throws {
        let handlers = handlers()
        // The member is in client mode, so this peer owns the whole vector and needs nothing back.
        let plan = try #require(GroupPlan(step: 1, elementCount: 4, members: [
            Declaration(step: 1, peer: me, address: "127.0.0.1:1", bandwidth: 1, clientMode: false, samples: 1),
            Declaration(step: 1, peer: member, address: "", bandwidth: 1, clientMode: true, samples: 1),
        ]))
        let part = try #require(plan.index(of: me))
        let theirs = [Float](repeating: 3, count: 4).withUnsafeBytes { [UInt8]($0) }
        let chunk = PartChunk(roundID: plan.id, step: 1, part: part, chunk: 0, sender: member, compression: .none, bytes: theirs[...])
        let reply = NIOLockedValueBox<Frame?>(nil)
        handlers.allReduce.servePart(Transport.InboundRequest(frame: Frame(type: .averagePart, requestID: 1, payload: chunk.encoded()),
                                                              peer: member))
            .whenSuccess { frame in reply.withLockedValue { $0 = frame } }
        #expect(reply.withLockedValue { $0 } == nil, "the chunk waits for its round")

        let vector = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4)
        defer { vector.deallocate() }
        vector.initialize(repeating: 1)
        let result = NIOLockedValueBox<AllReduceResult?>(nil)
        handlers.allReduce.startRound(plan: plan, me: me, vector: vector, settings: AllReduceRound.Settings(), endpoints: [:])
            .whenSuccess { outcome in result.withLockedValue { $0 = outcome } }

        let frame = try #require(reply.withLockedValue { $0 })
        #expect(frame.type == .averagedPart)
        let averaged = try AveragedChunk(decoding: frame.payload[...])
        let values = averaged.bytes.withUnsafeBytes { bytes in (0..<4).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        #expect(values == [2, 2, 2, 2])
        #expect(Array(vector) == [2, 2, 2, 2])
        #expect(result.withLockedValue { $0 }?.participants.count == 2)
    }

    private static func error(_ frame: Frame) -> (code: UInt16, message: String)? {
        guard case .error(let reply) = try? DHTMessage(frame: frame) else { return nil }
        return (reply.code, reply.message)
    }
}
