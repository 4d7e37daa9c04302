import Crypto

/// The SHA-256 of every chunk of a training state, which the state's hash commits to.
///
/// A downloader takes chunks from many donors at once; with only a hash over the whole state,
/// one donor serving garbage would spoil every download without revealing who lied. The state
/// hash is therefore a hash over the chunk digests: a downloader fetches the digests (the
/// manifest) from any donor, checks them against the announced hash, and then checks each
/// chunk as it arrives, so a wrong chunk names its donor.
public struct StateManifest: Sendable, Equatable {
    /// The protocol's chunk size: the unit of the manifest and of downloads.
    public static let chunkBytes = 1 << 20
    public static let digestBytes = 32
    /// Separates state hashes from every other SHA-256 the protocol computes.
    static let domain = Array("cohort state v2".utf8)

    public let step: Int
    public let stateBytes: Int
    public let chunkBytes: Int
    /// The chunks' SHA-256 digests, concatenated in chunk order (a `stateManifest` payload's).
    public let chunkDigests: [UInt8]
    /// SHA-256 over the domain, the step (u64, little-endian) and the chunk digests.
    public let stateHash: [UInt8]

    /// The manifest of `bytes`, the state at `step`. `chunkBytes` is the protocol's, except in
    /// tests.
    public init(step: Int, bytes: [UInt8], chunkBytes: Int = chunkBytes) {
        precondition(chunkBytes > 0, "a chunk has bytes, got \(chunkBytes)")
        var digests: [UInt8] = []
        digests.reserveCapacity(Self.chunkCount(stateBytes: bytes.count, chunkBytes: chunkBytes) * Self.digestBytes)
        for start in stride(from: 0, to: bytes.count, by: chunkBytes) {
            digests += Self.digest(bytes[start..<min(bytes.count, start + chunkBytes)])
        }
        self.step = step
        stateBytes = bytes.count
        self.chunkBytes = chunkBytes
        chunkDigests = digests
        stateHash = Self.stateHash(step: step, chunkDigests: digests)
    }

    /// A manifest a donor sent for the state announced as `stateHash`; throws unless it has
    /// one digest per chunk of `stateBytes` and hashes to `stateHash`.
    public init(step: Int, stateBytes: Int, chunkDigests: [UInt8], claimedHash stateHash: [UInt8],
                chunkBytes: Int = chunkBytes) throws(StateManifestMismatch) {
        let expected = Self.chunkCount(stateBytes: stateBytes, chunkBytes: chunkBytes) * Self.digestBytes
        guard chunkDigests.count == expected else {
            throw StateManifestMismatch("\(chunkDigests.count) bytes of chunk digests for a state of \(stateBytes) bytes, not \(expected)")
        }
        guard Self.stateHash(step: step, chunkDigests: chunkDigests) == stateHash else {
            throw StateManifestMismatch("chunk digests do not hash to the announced state of step \(step)")
        }
        self.step = step
        self.stateBytes = stateBytes
        self.chunkBytes = chunkBytes
        self.chunkDigests = chunkDigests
        self.stateHash = stateHash
    }

    public var chunkCount: Int { Self.chunkCount(stateBytes: stateBytes, chunkBytes: chunkBytes) }

    public static func chunkCount(stateBytes: Int, chunkBytes: Int = chunkBytes) -> Int {
        (stateBytes + chunkBytes - 1) / chunkBytes
    }

    public func byteRange(ofChunk chunk: Int) -> Range<Int> {
        (chunk * chunkBytes)..<min(stateBytes, (chunk + 1) * chunkBytes)
    }

    /// Whether `bytes` are chunk `chunk` of this state.
    public func holds(_ bytes: ArraySlice<UInt8>, asChunk chunk: Int) -> Bool {
        guard chunk >= 0, chunk < chunkCount, bytes.count == byteRange(ofChunk: chunk).count else { return false }
        let start = chunk * Self.digestBytes
        return Self.digest(bytes)[...] == chunkDigests[start..<(start + Self.digestBytes)]
    }

    static func stateHash(step: Int, chunkDigests: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: domain)
        withUnsafeBytes(of: UInt64(step).littleEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: chunkDigests)
        return Array(hasher.finalize())
    }

    private static func digest(_ chunk: ArraySlice<UInt8>) -> [UInt8] {
        chunk.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
    }
}

/// A manifest that does not belong to the state it was sent for.
public struct StateManifestMismatch: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
