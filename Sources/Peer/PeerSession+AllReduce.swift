import CohortBase
import Averaging
import Collaboration
import NIOCore
import Node
import Wire

extension PeerSession {
    /// Runs the plan's all-reduce on the event loop and waits for it.
    func allReduce(plan: GroupPlan) async throws -> AllReduceResult {
        let round = startAllReduce(plan: plan)
        let outcome: Result<AllReduceResult, any Error>
        do { outcome = .success(try await round.get()) } catch { outcome = .failure(error) }
        return try finishAllReduce(outcome)
    }

    /// Starts the plan's all-reduce on the event loop over `TrainingRun.averagingVector`, or
    /// the step's fragment of it under streaming local SGD (with what earlier rounds'
    /// compression took added, under error feedback).
    func startAllReduce(plan: GroupPlan) -> EventLoopFuture<AllReduceResult> {
        var endpoints: [PeerID: Endpoint] = [:]
        for member in plan.members where !member.address.isEmpty {
            if let endpoint = try? Endpoint(parsing: member.address) { endpoints[member.peer] = endpoint }
        }
        var settings = AllReduceRound.Settings(
            compression: config.compression.averagingCompression,
            chunkSize: AllReduceRound.Settings.chunkSize(for: plan))
        settings.aggregation = config.aggregation
        settings.normsGrowWithWeight = config.localSGD.localSteps > 1
        settings.roundTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 1000))
        settings.senderTimeout = .milliseconds(Int64(config.averagingTimeoutSeconds * 700))
        let averaged = config.localSGD.fragment(atStep: Int(plan.step), of: run.averagingVector.count)
        let vector = UnsafeMutableBufferPointer(start: run.averagingVector.base + averaged.lowerBound, count: averaged.count)
        let handlers = network.handlers, roundSettings = settings, memberEndpoints = endpoints
        let me = identity.peerID
        if let errorFeedback, let ownIndex = plan.members.firstIndex(where: { $0.peer == me }) {
            errorFeedback.prepare(vector, at: averaged.lowerBound, plan: plan, ownIndex: ownIndex, compression: settings.compression,
                                  chunkSize: settings.chunkSize)
        }
        let box = VectorBox(vector: vector)
        return network.eventLoop.flatSubmit {
            handlers.value.allReduce.startRound(plan: plan, me: me, vector: box.vector, settings: roundSettings, endpoints: memberEndpoints)
        }
    }

    /// Books a round's outcome (error feedback, traffic) once the session is to hear of it.
    func finishAllReduce(_ outcome: Result<AllReduceResult, any Error>) throws -> AllReduceResult {
        switch outcome {
        case .success(let result):
            errorFeedback?.roundDelivered()
            activity.bytesSent += UInt64(result.bytesSent)
            activity.bytesReceived += UInt64(result.bytesReceived)
            return result
        case .failure(let error):
            errorFeedback?.roundFailed()
            throw error
        }
    }
}

/// The averaging vector handed to the event loop for one round; nothing else touches it until
/// the round is over (training meanwhile, under local SGD, works on the model's own buffers).
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
