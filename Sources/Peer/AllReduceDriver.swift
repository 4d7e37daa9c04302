import CohortBase
import Averaging
import DHT
import Logging
import NIOCore
import Node
import Wire

/// One chunk of one part, on its way to or from one peer.
struct ChunkKey: Hashable {
    let peer: PeerID
    let part: Int
    let chunk: Int
}

/// Drives this peer's butterfly all-reduce rounds (`AllReduceRound`, DeDLOC §3.1) over the
/// transport: feeds each round its messages, deadlines and failures, and carries out what it
/// says to do.
///
/// Members send each owner their chunk of its part as a request, and the owner answers each
/// request with the averaged chunk once every member's chunk is in, so a client-mode member
/// that accepts no connections still receives its averages on the connection it opened.
///
/// Lives on the transport's event loop (`NIOLoopBound`).
final class AllReduceDriver {
    typealias PendingReply = (reply: EventLoopPromise<Frame>, local: Bool)

    /// What the running round needs beside the round itself; it goes when the round ends.
    struct RoundContext {
        let promise: EventLoopPromise<AllReduceResult>
        let endpoints: [PeerID: Endpoint]
        /// The round's wake-ups (sender deadline, round deadline), cancelled when it ends.
        var timers: [Scheduled<Void>] = []
        /// Chunk requests waiting for their average; `local` when it came as `averagePartLocal`
        /// and gets its average the same way.
        var pending: [ChunkKey: PendingReply] = [:]
        var windows = SendWindows()
        /// Silent senders being pinged (`AllReduceRound.Action.checkAlive`).
        var checkingAlive: Set<PeerID> = []
        /// Owners that answered they are past the round's step (`TransportErrorCode.pastTheRound`).
        var ownersPastTheRound: Set<PeerID> = []
    }

    let eventLoop: EventLoop
    let logger: Logger
    var transport: Transport?
    let sameHost: SameHostTransfer
    /// The running round, kept apart from `context` because `feedRound` moves it out.
    var round: AllReduceRound?
    var context: RoundContext?
    /// Chunks that arrived before this member formed the round they belong to, with the time
    /// they arrived (the round measures the owner's inbound rate from arrival times).
    private var early = EarlyChunks<(reply: EventLoopPromise<Frame>, arrived: MonotonicInstant, local: Bool)>()
    /// The step of this peer's state. A chunk for an earlier step that is not the running
    /// round's belongs to a round this peer will never form (a member that saw this peer
    /// declare after it had stepped without that member): it is refused at once, so that the
    /// sender learns within a round trip instead of at the round's deadline.
    private var step: UInt64 = 0

    init(eventLoop: EventLoop, logger: Logger, sameHost: SameHostTransfer) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.sameHost = sameHost
    }

    static func now() -> MonotonicInstant { SystemClock().now().monotonic }

    // MARK: chunks from members

    func servePart(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        let chunk: PartChunk
        do {
            chunk = try PartChunk(decoding: request.frame.payload[...])
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return receive(chunk, from: request.peer, local: false)
    }

    /// An `averagePartLocal`: copies the member's chunk out of its memory and takes it.
    func serveLocalPart(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        let reference: PartChunkReference
        do {
            reference = try PartChunkReference(decoding: request.frame.payload[...])
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        switch sameHost.copyPartChunk(reference, from: request.peer) {
        case .success(let chunk): return receive(chunk, from: request.peer, local: true)
        case .failure(let refusal): return eventLoop.makeSucceededFuture(refusal.frame)
        }
    }

    /// Takes a member's chunk, received through the socket or copied out of its memory (`local`,
    /// which is how its average goes back).
    func receive(_ chunk: PartChunk, from peer: PeerID, local: Bool) -> EventLoopFuture<Frame> {
        guard chunk.sender.bytes == peer.bytes else {
            return eventLoop.makeSucceededFuture(Frame.refusal("chunk sender is not the authenticated peer"))
        }
        let reply = eventLoop.makePromise(of: Frame.self)
        if round?.plan.id == chunk.roundID {
            accept(chunk, reply: reply, arrived: Self.now(), local: local)
        } else if chunk.step < step {
            reply.succeed(Self.pastTheRound(chunk))
        } else if !early.hold(chunk, waiting: (reply, Self.now(), local)) {
            reply.succeed(Frame.refusal("too many chunks for rounds this peer has not joined"))
        }
        return reply.futureResult
    }

    /// This peer's state is now at `step`: chunks held for rounds of earlier steps are refused.
    func onStep(_ step: UInt64) {
        self.step = step
        for (chunk, waiting) in early.removeAll(before: step) {
            waiting.reply.succeed(Self.pastTheRound(chunk))
        }
    }

    private func accept(_ chunk: PartChunk, reply: EventLoopPromise<Frame>, arrived: MonotonicInstant, local: Bool) {
        guard round != nil else { return }
        let key = ChunkKey(peer: chunk.sender, part: chunk.part, chunk: chunk.chunk)
        context?.pending[key] = (reply, local)
        feedRound { $0.onPartChunk(chunk, now: arrived) }
    }

    private static func pastTheRound(_ chunk: PartChunk) -> Frame {
        Frame.refusal("past step \(chunk.step): not in round \(chunk.roundID)", code: TransportErrorCode.pastTheRound)
    }

    // MARK: the round

    /// Runs one all-reduce over `vector` with the members of `plan`; the future completes when
    /// the round is over, whatever happened to the other members.
    func startRound(plan: GroupPlan, me: PeerID, vector: UnsafeMutableBufferPointer<Float>,
                    settings: AllReduceRound.Settings, endpoints: [PeerID: Endpoint]) -> EventLoopFuture<AllReduceResult> {
        precondition(round == nil, "a round is already running for step \(round?.plan.step ?? 0)")
        let promise = eventLoop.makePromise(of: AllReduceResult.self)
        context = RoundContext(promise: promise, endpoints: endpoints)
        sameHost.beginRound(plan, me: me, endpoints: endpoints)
        var newRound = AllReduceRound(plan: plan, peer: me, vector: vector, settings: settings, now: Self.now())
        let actions = newRound.start()
        round = newRound
        execute(actions)
        for (chunk, (reply, arrived, local)) in early.removeAll() {
            if chunk.roundID == plan.id, round != nil {
                accept(chunk, reply: reply, arrived: arrived, local: local)
            } else if chunk.roundID == plan.id {
                reply.succeed(Frame.refusal("round is over"))
            } else {
                // A chunk for a round this member is not in (another group, or a stale plan).
                reply.succeed(Frame.refusal("not a member of round \(chunk.roundID)"))
            }
        }
        return promise.futureResult
    }

    /// Feeds one event to the running round and executes the actions it returns. The round is
    /// moved out of `round` while the event mutates it, so its buffers (an owner's sums and
    /// encoded averages) change in place instead of being copied on write at every chunk.
    func feedRound(_ event: (inout AllReduceRound) -> [AllReduceRound.Action]) {
        guard var current = round else { return }
        round = nil
        let actions = event(&current)
        round = current
        execute(actions)
    }

    private func execute(_ actions: [AllReduceRound.Action]) {
        for action in actions {
            switch action {
            case .sendPartChunk(let reference, let owner):
                context?.windows.queue(reference, to: owner)
                sendParts(to: owner)
            case .sendAveragedChunk(let reference, let peers):
                answerAveraged(reference, to: peers)
            case .wake(let time):
                let deadline = NIODeadline.uptimeNanoseconds(UInt64(max(0, time.nanoseconds)))
                context?.timers.append(eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                    feedRound { $0.onDeadline(now: Self.now()) }
                })
            case .checkAlive(let peer):
                checkAlive(peer)
            case .dropPeer(let peer, let reason):
                leaveOut(peer, reason: reason, offence: .badPart)
            case .banPeer(let peer, let reason):
                leaveOut(peer, reason: reason, offence: .poisonedAverage)
            case .partReduced:
                // Rounds here have one group, so no second stage: give the part up rather
                // than hold the members until the deadline.
                logger.warning("a round asked for a second stage this peer does not run; its part is left out")
                feedRound { $0.onPartSkipped(now: Self.now()) }
            case .sendPartSkipped(let part, _, let peers):
                let skipped = Set(peers)
                for key in context.map({ Array($0.pending.keys) }) ?? [] where key.part == part && skipped.contains(key.peer) {
                    context?.pending.removeValue(forKey: key)?.reply.succeed(Frame.refusal("part \(part) was skipped"))
                }
            case .finished(let result):
                finishRound(result)
            }
        }
    }

    /// Answers the members waiting for chunk `reference` of this owner's part with its average,
    /// each the way its chunk came.
    private func answerAveraged(_ reference: AllReduceRound.ChunkReference, to peers: [PeerID]) {
        guard let round else { return }
        var inline: [UInt8]?
        var local: [UInt8]?
        for peer in peers {
            let key = ChunkKey(peer: peer, part: reference.part, chunk: reference.chunk)
            guard let waiting = context?.pending.removeValue(forKey: key) else { continue }
            if waiting.local {
                local = local ?? sameHost.exposeAverage(of: reference, in: round)
                waiting.reply.succeed(Frame(type: .averagedPartLocal, requestID: 0, payload: local!))
            } else {
                inline = inline ?? round.averagedChunkPayload(for: reference)
                waiting.reply.succeed(Frame(type: .averagedPart, requestID: 0, payload: inline!))
            }
        }
    }

    private func leaveOut(_ peer: PeerID, reason: String, offence: Offence.Kind) {
        logger.info("left out of the round", metadata: ["peer.id": "\(peer)", "reason": "\(reason)"])
        for key in context.map({ Array($0.pending.keys) }) ?? [] where key.peer == peer {
            if let waiting = context?.pending.removeValue(forKey: key) {
                waiting.reply.succeed(Frame.refusal("left out: \(reason)"))
            }
        }
        transport?.reportOffence(Offence(offence, reason), by: peer)
    }

    private func finishRound(_ result: AllReduceResult) {
        // Before anything else: an owner still copying a chunk must see that it may be stale.
        sameHost.endRound()
        round = nil
        guard let ending = context else { preconditionFailure("round \(result.roundID) finished without its context") }
        context = nil
        ending.timers.forEach { $0.cancel() }
        for waiting in ending.pending.values { waiting.reply.succeed(Frame.refusal("round is over")) }
        var result = result
        result.pastTheRound = result.leftOut.filter(ending.ownersPastTheRound.contains)
        // They sent nothing because they are elsewhere, not because they hold rounds up.
        result.silent.removeAll(where: ending.ownersPastTheRound.contains)
        ending.promise.succeed(result)
    }
}
