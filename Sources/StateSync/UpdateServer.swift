import Collaboration
import NIOConcurrencyHelpers
import Node
import Wire

/// This peer's newest applied updates (`UpdateLog`), served to peers that replay them: the
/// chain's headers (`updatesRequest` → `updates`), then each gradient in chunks
/// (`updateChunkRequest` → `updateChunk`).
public final class UpdateServer: Sendable {
    private let log: NIOLockedValueBox<UpdateLog>

    /// A server keeping the newest `keep` updates; 0 keeps and serves none.
    public init(keep: Int) {
        log = NIOLockedValueBox(UpdateLog(capacity: keep))
    }

    public var keeps: Int { log.withLockedValue(\.capacity) }

    /// Keeps `update` (`UpdateLog.append`).
    public func record(_ update: AppliedUpdate) {
        log.withLockedValue { $0.append(update) }
    }

    /// The reply to an `updatesRequest` or an `updateChunkRequest`, or an `error` frame saying
    /// why there is none. Throws when the request does not decode or is of another type.
    public func answer(_ frame: Frame) throws -> Frame {
        switch frame.type {
        case .updatesRequest:
            let ask = try UpdatesRequest(decoding: frame.payload)
            guard let chain = log.withLockedValue({ $0.chain(fromStep: ask.fromStep, fromHash: ask.fromHash, toStep: ask.toStep,
                                                             toHash: ask.toHash) }) else {
                return Frame.refusal("no chain of updates from step \(ask.fromStep) to step \(ask.toStep) here")
            }
            return Frame(type: .updates, requestID: 0, payload: UpdatesReply.encode(chain.map(\.header)))
        case .updateChunkRequest:
            let ask = try UpdateChunkRequest(decoding: frame.payload)
            guard let update = log.withLockedValue({ $0.update(fromStep: ask.fromStep, hashBefore: ask.hashBefore) }) else {
                return Frame.refusal("no update from step \(ask.fromStep) here")
            }
            guard ask.elements.upperBound <= update.gradients.count else {
                return Frame.refusal("elements beyond the update's \(update.gradients.count)")
            }
            let payload = UpdateChunk.encode(fromStep: ask.fromStep, firstElement: ask.firstElement, values: update.gradients[ask.elements])
            return Frame(type: .updateChunk, requestID: 0, payload: payload)
        default:
            throw WireError.unknownMessageType
        }
    }
}
