import Crypto
import Trainer

/// A peer's training state frozen at a step, served to peers that download it.
///
/// Peers of a round hold bit-identical state afterwards, so every one of them serves the same
/// bytes under the same hash, and a downloader may take chunks from all of them.
public struct StateSnapshot: Sendable {
    public let step: Int
    public let bytes: [UInt8]
    /// SHA-256 over the step (u64, little-endian) and the bytes.
    public let hash: [UInt8]

    public init(step: Int, bytes: [UInt8]) {
        self.step = step
        self.bytes = bytes
        hash = Self.hash(step: step, bytes: bytes)
    }

    public init(of run: TrainingRun) {
        let bytes = [UInt8](unsafeUninitializedCapacity: run.stateByteCount) { buffer, count in
            run.copyState(into: UnsafeMutableRawBufferPointer(buffer))
            count = run.stateByteCount
        }
        self.init(step: run.step, bytes: bytes)
    }

    public static func hash(step: Int, bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        withUnsafeBytes(of: UInt64(step).littleEndian) { hasher.update(bufferPointer: $0) }
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }
}
