import Crypto
import Testing
@testable import Collaboration

@Suite struct StateManifestTests {
    static let state: [UInt8] = (0..<25).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }

    @Test func theStateHashCoversTheDomainTheStepAndEveryChunksDigest() {
        let manifest = StateManifest(step: 7, bytes: Self.state, chunkBytes: 10)
        let digests = [0..<10, 10..<20, 20..<25].flatMap { Array(SHA256.hash(data: Array(Self.state[$0]))) }
        #expect(manifest.chunkCount == 3)
        #expect(manifest.chunkDigests == digests)
        var expected = SHA256()
        expected.update(data: Array("cohort state v2".utf8))
        expected.update(data: [7, 0, 0, 0, 0, 0, 0, 0])
        expected.update(data: digests)
        #expect(manifest.stateHash == Array(expected.finalize()))
        #expect(StateManifest(step: 8, bytes: Self.state, chunkBytes: 10).stateHash != manifest.stateHash)
    }

    @Test func snapshotsHashOverProtocolChunks() {
        let bytes = [UInt8](repeating: 3, count: StateManifest.chunkBytes + 1)
        let snapshot = StateSnapshot(step: 2, bytes: bytes)
        #expect(snapshot.manifest.chunkCount == 2)
        #expect(snapshot.hash == StateManifest(step: 2, bytes: bytes).stateHash)
    }

    @Test func aReceivedManifestMustHashToTheClaimAndHaveOneDigestPerChunk() throws {
        let honest = StateManifest(step: 7, bytes: Self.state, chunkBytes: 10)
        let received = try StateManifest(step: 7, stateBytes: 25, chunkDigests: honest.chunkDigests, claimedHash: honest.stateHash, chunkBytes: 10)
        #expect(received == honest)
        var forged = honest.chunkDigests
        forged[40] ^= 0x80
        #expect(throws: StateManifestMismatch.self) {
            try StateManifest(step: 7, stateBytes: 25, chunkDigests: forged, claimedHash: honest.stateHash, chunkBytes: 10)
        }
        #expect(throws: StateManifestMismatch.self) {
            try StateManifest(step: 7, stateBytes: 35, chunkDigests: honest.chunkDigests, claimedHash: honest.stateHash, chunkBytes: 10)
        }
        #expect(throws: StateManifestMismatch.self) {
            try StateManifest(step: 8, stateBytes: 25, chunkDigests: honest.chunkDigests, claimedHash: honest.stateHash, chunkBytes: 10)
        }
    }

    @Test func aChunkIsHeldOnlyWithItsOwnBytesAndLength() {
        let manifest = StateManifest(step: 7, bytes: Self.state, chunkBytes: 10)
        #expect(manifest.holds(Self.state[20..<25], asChunk: 2))
        #expect(!manifest.holds(Self.state[10..<20], asChunk: 0))
        #expect(!manifest.holds(Self.state[20..<24], asChunk: 2))
        #expect(!manifest.holds(Self.state[0..<10], asChunk: 3))
        #expect(!manifest.holds(Self.state[0..<10], asChunk: -1))
    }
}
