import Averaging
import Collaboration
import NIOCore
import Node
import Wire

extension PeerSession {
    /// Runs the plan's all-reduce on the event loop over the gradient arena (with what earlier
    /// rounds' compression took added, under error feedback).
    func allReduce(plan: GroupPlan) async throws -> AllReduceResult {
        var endpoints: [Averaging.PeerID: Endpoint] = [:]
        for member in plan.members where !member.address.isEmpty {
            if let endpoint = try? Endpoint(parsing: member.address) { endpoints[member.peer] = endpoint }
        }
        var settings = AllReduceRound.Settings(
            compression: config.compression.averagingCompression,
            chunkSize: AllReduceRound.Settings.chunkSize(forElementCount: plan.elementCount, memberCount: plan.members.count))
        settings.aggregation = config.aggregation
        settings.normsGrowWithWeight = config.localSGD.localSteps > 1
        settings.roundTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 1000))
        settings.senderTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 700))
        let vector = UnsafeMutableBufferPointer(start: run.model.gradients.base, count: run.model.gradients.count)
        let services = network.services, roundSettings = settings, memberEndpoints = endpoints
        let me = Averaging.PeerID(bytes: identity.peerID.bytes)!
        if let errorFeedback, let ownIndex = plan.members.firstIndex(where: { $0.peer == me }) {
            errorFeedback.prepare(vector, plan: plan, ownIndex: ownIndex, compression: settings.compression, chunkSize: settings.chunkSize)
        }
        let box = VectorBox(vector: vector)
        do {
            let result = try await network.eventLoop.flatSubmit {
                services.value.startRound(plan: plan, me: me, vector: box.vector, settings: roundSettings, endpoints: memberEndpoints)
            }.get()
            errorFeedback?.roundDelivered()
            return result
        } catch {
            errorFeedback?.roundFailed()
            throw error
        }
    }
}

/// The gradient arena handed to the event loop for one round; the training loop waits for the
/// round and does not touch the arena meanwhile.
private struct VectorBox: @unchecked Sendable {
    let vector: UnsafeMutableBufferPointer<Float>
}

extension RunConfig.Compression {
    var averagingCompression: Averaging.Compression {
        switch self {
        case .none: .none
        case .float16: .float16
        case .int8: .blockwiseInt8(blockSize: 256)
        }
    }
}
