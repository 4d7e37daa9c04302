import Collaboration
import NIOConcurrencyHelpers
import Node
import Wire

/// Frozen training states (`StateSnapshot`) served to peers that download them, in chunks
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

    /// The reply to a `stateRequest`: the asked range of the state at the asked step, or an
    /// `error` frame saying why not. Throws when the request does not decode.
    public func answer(_ frame: Frame) throws -> Frame {
        let ask = try StateRequest(decoding: frame.payload)
        guard let snapshot = snapshots.withLockedValue({ held in held.last { $0.step == ask.step } }) else {
            return PeerServices.errorFrame("no state for step \(ask.step) here")
        }
        guard ask.offset + ask.length <= snapshot.bytes.count else {
            return PeerServices.errorFrame("range beyond the state's \(snapshot.bytes.count) bytes")
        }
        let payload = StateChunk.encode(step: ask.step, offset: ask.offset, bytes: snapshot.bytes[ask.offset..<(ask.offset + ask.length)])
        return Frame(type: .stateChunk, requestID: 0, payload: payload)
    }
}
