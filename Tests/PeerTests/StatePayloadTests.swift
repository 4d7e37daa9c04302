@testable import StateSync
import Testing
import Wire
@testable import Peer

@Suite struct StatePayloadTests {
    static let hash = [UInt8](repeating: 0xAB, count: 32)

    @Test func requestsNameTheStateByStepAndHash() throws {
        let chunk = StateRequest(step: 9, stateHash: Self.hash, offset: 1 << 20, length: 1 << 20)
        #expect(chunk.encoded.count == 52)
        #expect(try StateRequest(decoding: chunk.encoded) == chunk)
        let manifest = StateManifestRequest(step: 9, stateHash: Self.hash)
        #expect(try StateManifestRequest(decoding: manifest.encoded) == manifest)
    }

    @Test func malformedRequestsAreRefused() {
        let chunk = StateRequest(step: 9, stateHash: Self.hash, offset: 0, length: 1).encoded
        #expect(throws: WireError.self) { try StateRequest(decoding: Array(chunk.dropLast())) }
        #expect(throws: WireError.self) { try StateRequest(decoding: StateRequest(step: 9, stateHash: Self.hash, offset: 0, length: 0).encoded) }
        let manifest = StateManifestRequest(step: 9, stateHash: Self.hash).encoded
        #expect(throws: WireError.self) { try StateManifestRequest(decoding: manifest + [0]) }
        #expect(throws: WireError.self) { try StateManifestRequest(decoding: Array(manifest.prefix(39))) }
    }

    @Test func aManifestReplyCarriesTheDigestsUpToItsBound() throws {
        let digests = [UInt8](repeating: 7, count: 96)
        let reply = try StateManifestReply(decoding: StateManifestReply.encode(step: 4, chunkDigests: digests))
        #expect(reply.step == 4 && reply.chunkDigests == digests)
        var oversized = ByteWriter()
        oversized.write(UInt64(4))
        oversized.write(UInt32(StateManifestReply.maxDigestBytes + 32))
        #expect(throws: WireError.self) { try StateManifestReply(decoding: oversized.bytes) }
    }
}
