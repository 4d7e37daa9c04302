import CohortBase
import Averaging
import DHT
import Dispatch
import NIOCore
import Node
import Wire

/// What a poisoning owner writes into the averages it sends back.
enum Poison: String, Sendable {
    /// The true average times 10⁶: finite, but far past every member's norm check.
    case hugeNorm = "huge-norm"
    /// Every value NaN.
    case notANumber = "nan"

    static let hugeFactor: Float = 1e6
}

/// The all-reduce side of the `poisoned-average` identity: it runs the project's own
/// `AllReduceRound` for each plan it is in, as an honest member would (its chunks of the others'
/// parts go out, so no owner waits for it), but answers the members' chunks of its own part with
/// poisoned averages.
///
/// Every property is touched only on the transport's event loop: `serve` and `start` hop there.
final class PoisonedOwner: @unchecked Sendable {
    /// A round this identity was a member of, as it reports it.
    struct Tally: Sendable {
        let step: UInt64
        let members: Int
        let poison: Poison
        var chunksServed = 0
    }

    private struct PendingKey: Hashable {
        let peer: PeerID
        let part: Int
        let chunk: Int
    }

    private let transport: Transport
    private var eventLoop: EventLoop { transport.eventLoop }
    private var round: AllReduceRound?
    private var poison = Poison.hugeNorm
    private var vector: UnsafeMutableBufferPointer<Float>?
    private var endpoints: [PeerID: Endpoint] = [:]
    private var pending: [PendingKey: EventLoopPromise<Frame>] = [:]
    private var tallies: [Tally] = []

    init(transport: Transport) {
        self.transport = transport
    }

    deinit { vector?.deallocate() }

    private static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds)) }

    /// The rounds so far.
    func rounds() async throws -> [Tally] {
        try await eventLoop.submit { self.tallies }.get()
    }

    /// Starts the all-reduce of `plan` with a zero vector (this identity trains nothing),
    /// dropping any round still running.
    func start(plan: GroupPlan, me: PeerID, settings: AllReduceRound.Settings, poison: Poison) async throws {
        try await eventLoop.submit {
            self.finishRound()
            if self.vector?.count != plan.elementCount {
                self.vector?.deallocate()
                self.vector = .allocate(capacity: plan.elementCount)
            }
            let vector = self.vector!
            vector.initialize(repeating: 0)
            self.poison = poison
            self.endpoints = Dictionary(uniqueKeysWithValues: plan.members.compactMap { member in
                (try? Endpoint(parsing: member.address)).map { (member.peer, $0) }
            })
            self.tallies.append(Tally(step: plan.step, members: plan.members.count, poison: poison))
            var round = AllReduceRound(plan: plan, peer: me, vector: vector, settings: settings, now: Self.now())
            let actions = round.start()
            self.round = round
            self.execute(actions)
        }.get()
    }

    /// A member's chunk of this identity's part: held until the round averages it.
    func serve(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        eventLoop.flatSubmit {
            guard let chunk = try? PartChunk(decoding: request.frame.payload[...]), chunk.sender.bytes == request.peer.bytes,
                  self.round?.plan.id == chunk.roundID else {
                return self.eventLoop.makeSucceededFuture(Frame.refusal("not a member of that round"))
            }
            let reply = self.eventLoop.makePromise(of: Frame.self)
            self.pending[PendingKey(peer: chunk.sender, part: chunk.part, chunk: chunk.chunk)] = reply
            self.feed { $0.onPartChunk(chunk, now: Self.now()) }
            return reply.futureResult
        }
    }

    private func feed(_ event: (inout AllReduceRound) -> [AllReduceRound.Action]) {
        guard var current = round else { return }
        let actions = event(&current)
        round = current
        execute(actions)
    }

    private func execute(_ actions: [AllReduceRound.Action]) {
        for action in actions {
            switch action {
            case .sendPartChunk(let reference, let owner):
                sendPart(reference, to: owner)
            case .sendAveragedChunk(let reference, let peers):
                guard let round else { continue }
                let payload = poisonedAverage(of: reference, in: round)
                for peer in peers {
                    guard let reply = pending.removeValue(forKey: PendingKey(peer: peer, part: reference.part, chunk: reference.chunk))
                    else { continue }
                    reply.succeed(Frame(type: .averagedPart, requestID: 0, payload: payload))
                    tallies[tallies.count - 1].chunksServed += 1
                }
            case .wake(let time):
                let roundID = round?.plan.id
                eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, time.nanoseconds)))) {
                    guard self.round?.plan.id == roundID else { return }
                    self.feed { $0.onDeadline(now: Self.now()) }
                }
            case .checkAlive, .partReduced, .sendPartSkipped:
                // A silent member is left out at the sender deadline; the attacker does not chase
                // it, and runs rounds of one group.
                continue
            case .dropPeer(let peer, let reason), .banPeer(let peer, let reason):
                for key in pending.keys where key.peer == peer {
                    pending.removeValue(forKey: key)?.succeed(Frame.refusal("left out: \(reason)"))
                }
            case .finished:
                finishRound()
            }
        }
    }

    /// Sends this identity's zero values of an honest owner's part, and takes the average back.
    private func sendPart(_ reference: AllReduceRound.ChunkReference, to owner: PeerID) {
        guard let round, let endpoint = endpoints[owner], let ownerID = PeerID(bytes: owner.bytes) else {
            feed { $0.onPeerFailed(owner, now: Self.now()) }
            return
        }
        let roundID = round.plan.id
        transport.request(.averagePart, payload: round.partChunkPayload(for: reference), to: endpoint, expecting: ownerID,
                          timeout: TimeAmount(round.settings.roundTimeout))
            .hop(to: eventLoop)
            .whenComplete { result in
                guard self.round?.plan.id == roundID else { return }
                if case .success(let reply) = result, reply.frame.type == .averagedPart,
                   let averaged = try? AveragedChunk(decoding: reply.frame.payload[...]) {
                    self.feed { $0.onAveragedChunk(averaged, from: owner, now: Self.now()) }
                } else {
                    self.feed { $0.onPeerFailed(owner, now: Self.now()) }
                }
            }
    }

    /// The payload an honest owner would send for `reference`, with poisoned values.
    private func poisonedAverage(of reference: AllReduceRound.ChunkReference, in round: AllReduceRound) -> [UInt8] {
        let compression = round.settings.compression
        var values = [Float](repeating: .nan, count: reference.elements.count)
        if poison == .hugeNorm {
            values.withUnsafeMutableBufferPointer { values in
                round.withAveragedChunkBytes(for: reference) { compression.decode($0, into: values) }
                for index in values.indices { values[index] *= Poison.hugeFactor }
            }
        }
        return AveragedChunk.payload(roundID: round.plan.id, part: reference.part, chunk: reference.chunk, compression: compression,
                                     byteCount: compression.encodedByteCount(elementCount: values.count)) { bytes in
            values.withUnsafeBufferPointer { _ = compression.encode($0, into: bytes) }
        }
    }

    private func finishRound() {
        round = nil
        for reply in pending.values { reply.succeed(Frame.refusal("round is over")) }
        pending = [:]
    }
}
