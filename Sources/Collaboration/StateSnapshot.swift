import Trainer

/// A peer's training state frozen at a step, served to peers that download it.
///
/// Peers of a round hold bit-identical state afterwards, so every one of them serves the same
/// bytes under the same hash, and a downloader may take chunks from all of them.
public struct StateSnapshot: Sendable {
    public let step: Int
    public let bytes: [UInt8]
    /// The chunks' digests, computed once and served to every downloader.
    public let manifest: StateManifest

    public init(step: Int, bytes: [UInt8]) {
        self.step = step
        self.bytes = bytes
        manifest = StateManifest(step: step, bytes: bytes)
    }

    public init(of run: TrainingRun) {
        let bytes = [UInt8](unsafeUninitializedCapacity: run.stateByteCount) { buffer, count in
            run.copyState(into: UnsafeMutableRawBufferPointer(buffer))
            count = run.stateByteCount
        }
        self.init(step: run.step, bytes: bytes)
    }

    /// The hash announced for this state: SHA-256 over a domain string, the step and the
    /// SHA-256 of every 1 MiB chunk (`StateManifest.stateHash`).
    public var hash: [UInt8] { manifest.stateHash }
}
