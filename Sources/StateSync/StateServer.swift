import Collaboration
import NIOConcurrencyHelpers
import Node
import Wire

/// Frozen training states (`StateSnapshot`) served to peers that download them: their chunk
/// digests (`stateManifestRequest` → `stateManifest`), then their bytes in chunks
/// (`stateRequest` → `stateChunk`). A training peer keeps its newest two, so a download begun
/// before it stepped can finish; a coordinator keeps the newest checkpoint it holds.
public final class StateServer: Sendable {
    private let snapshots = NIOLockedValueBox<[StateSnapshot]>([])
    private let keep: Int

    public init(keep: Int) {
        precondition(keep >= 1, "a state server keeps at least one snapshot")
        self.keep = keep
    }

    /// Serves `snapshot` from now on, dropping the oldest beyond `keep`.
    public func publish(_ snapshot: StateSnapshot) {
        snapshots.withLockedValue { held in
            held.append(snapshot)
            if held.count > keep { held.removeFirst(held.count - keep) }
        }
    }

    /// The reply to a `stateManifestRequest` or a `stateRequest`, or an `error` frame saying
    /// why there is none. Throws when the request does not decode or is of another type.
    public func answer(_ frame: Frame) throws -> Frame {
        switch frame.type {
        case .stateManifestRequest:
            let ask = try StateManifestRequest(decoding: frame.payload)
            guard let snapshot = snapshot(step: ask.step, hash: ask.stateHash) else {
                return Frame.refusal("no such state of step \(ask.step) here")
            }
            let payload = StateManifestReply.encode(step: ask.step, chunkDigests: snapshot.manifest.chunkDigests)
            return Frame(type: .stateManifest, requestID: 0, payload: payload)
        case .stateRequest:
            let ask = try StateRequest(decoding: frame.payload)
            guard let snapshot = snapshot(step: ask.step, hash: ask.stateHash) else {
                return Frame.refusal("no such state of step \(ask.step) here")
            }
            guard ask.offset + ask.length <= snapshot.bytes.count else {
                return Frame.refusal("range beyond the state's \(snapshot.bytes.count) bytes")
            }
            let payload = StateChunk.encode(step: ask.step, offset: ask.offset, bytes: snapshot.bytes[ask.offset..<(ask.offset + ask.length)])
            return Frame(type: .stateChunk, requestID: 0, payload: payload)
        default:
            throw WireError.unknownMessageType
        }
    }

    /// The held state of `step` with `hash`: a peer that reloaded an agreed state holds two of
    /// one step, and must serve the one the downloader was told of.
    private func snapshot(step: Int, hash: [UInt8]) -> StateSnapshot? {
        snapshots.withLockedValue { held in held.last { $0.step == step && $0.hash == hash } }
    }
}
