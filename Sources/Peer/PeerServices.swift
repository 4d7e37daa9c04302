import CohortBase
import StateSync
import Averaging
import Collaboration
import DHT
import Dispatch
import Logging
import NIOCore
import Node
import Wire

/// The peer's request handlers beside the DHT: butterfly all-reduce rounds and state serving.
///
/// Lives on the transport's event loop (`NIOLoopBound`). An all-reduce round is driven here:
/// members send each owner their chunk of its part as a request, and the owner answers each
/// request with the averaged chunk once every member's chunk is in, so a client-mode member
/// that accepts no connections still receives its averages on the connection it opened.
final class PeerServices {
    struct PendingKey: Hashable {
        let peer: PeerID
        let part: Int
        let chunk: Int
    }

    let eventLoop: EventLoop
    let logger: Logger
    var transport: Transport?
    var round: AllReduceRound?
    private var roundPromise: EventLoopPromise<AllReduceResult>?
    var roundEndpoints: [PeerID: Endpoint] = [:]
    /// The round's wake-ups (sender deadline, round deadline), each kept until the round ends.
    private var roundTimers: [Scheduled<Void>] = []
    /// Chunk requests waiting for their average; `local` when it came as `averagePartLocal`
    /// and gets its average the same way.
    private var pending: [PendingKey: (reply: EventLoopPromise<Frame>, local: Bool)] = [:]
    /// Whether chunks to and from peers proven to run on this machine are copied between the
    /// processes instead of sent through the socket (docs/protocol.md, "Same-host copies").
    let sameHostCopies: Bool
    let sameHost: SameHostPeers
    /// This member's chunks exposed to owners on this machine until they answer; they hold
    /// what they were pointed at while `roundLease` does, which ends with the round.
    var exposedChunks: [PendingKey: ExposedBytes] = [:]
    let roundLease = MemoryLease()
    /// This owner's averaged chunks exposed to members on this machine, of this round and the
    /// one before: members copy them when the answer reaches them, which can be after this
    /// owner went on to its next round (a member cannot be further behind, since this owner's
    /// next round waits for that member's chunks).
    var exposedAverages: [ExposedAverages] = []
    /// Chunk bytes copied out of other processes' memory, both directions, by round id: the
    /// running round's, and the next one's copied before it started here.
    private var sameHostBytesCopied: [UInt64: Int] = [:]
    /// Per owner: this member's chunks of its part not yet sent, in the order the round emitted them.
    private var unsent: [PeerID: CircularBuffer<AllReduceRound.ChunkReference>] = [:]
    /// Per owner: chunks sent whose average has not come back yet.
    private var inFlight: [PeerID: Int] = [:]
    /// Owners whose link was full, with a retry scheduled.
    private var retrying: Set<PeerID> = []
    /// Silent senders being pinged (`AllReduceRound.Action.checkAlive`).
    private var checkingAlive: Set<PeerID> = []
    /// How long a silent sender has to answer a ping. Not answering leaves it in: only a sender
    /// that is certainly gone is left out before the sender deadline.
    static let aliveCheckTimeout = TimeAmount.seconds(5)
    /// Waits before retrying a chunk the transport refused because the link's send buffer was full.
    static let backpressureRetryDelay = TimeAmount.milliseconds(2)
    /// Chunks that arrived before this member formed the round they belong to, with the time
    /// they arrived (the round measures the owner's inbound rate from arrival times).
    private var early = EarlyChunks<(reply: EventLoopPromise<Frame>, arrived: MonotonicInstant, local: Bool)>()
    /// The step of this peer's state. A chunk for an earlier step that is not the running
    /// round's belongs to a round this peer will never form (a member that saw this peer
    /// declare after it had stepped without that member): it is refused at once, so that the
    /// sender learns within a round trip instead of at the round's deadline.
    private var step: UInt64 = 0
    /// Owners of this round that answered they are past its step (`TransportErrorCode.pastTheRound`).
    private var ownersPastTheRound: Set<PeerID> = []
    /// This peer's newest two states, served to downloading peers.
    private let states = StateServer(keep: 2)
    /// This peer's newest applied updates, served to peers replaying them.
    private let updates: UpdateServer

    init(eventLoop: EventLoop, logger: Logger, ownID: PeerID, sameHostCopies: Bool, updates: UpdateServer = UpdateServer(keep: 0)) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.sameHostCopies = sameHostCopies
        self.updates = updates
        sameHost = SameHostPeers(ownID: ownID)
        if sameHostCopies, let refusal = ProcessMemory.allowReadersOfThisUser() {
            logger.info("sibling peers on this machine may be refused copies from this process", metadata: ["reason": "\(refusal)"])
        }
    }

    static func now() -> MonotonicInstant { SystemClock().now().monotonic }

    // MARK: serving

    func serve(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        switch request.frame.type {
        case .averagePart: return servePart(request)
        case .averagePartLocal: return serveLocalPart(request)
        case .sameHostProbe: return answerProbe(request)
        case .sameHostProof: return checkProof(request)
        case .stateRequest, .stateManifestRequest: return serveState(request)
        case .updatesRequest, .updateChunkRequest: return eventLoop.makeCompletedFuture { try updates.answer(request.frame) }
        default: return eventLoop.makeFailedFuture(WireError.unknownMessageType)
        }
    }

    private func servePart(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        let chunk: PartChunk
        do {
            chunk = try PartChunk(decoding: request.frame.payload[...])
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return receive(chunk, from: request.peer, local: false)
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

    private func accept(_ chunk: PartChunk, reply: EventLoopPromise<Frame>, arrived: MonotonicInstant, local: Bool) {
        guard round != nil else { return }
        let key = PendingKey(peer: chunk.sender, part: chunk.part, chunk: chunk.chunk)
        pending[key] = (reply, local)
        feedRound { $0.onPartChunk(chunk, now: arrived) }
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

    private func serveState(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        eventLoop.makeCompletedFuture { try states.answer(request.frame) }
    }

    /// Serves `snapshot` from now on; its step is this peer's, and chunks held for rounds of
    /// earlier steps are refused.
    func publish(_ snapshot: StateSnapshot) {
        states.publish(snapshot)
        step = UInt64(snapshot.step)
        for (chunk, waiting) in early.removeAll(before: step) {
            waiting.reply.succeed(Self.pastTheRound(chunk))
        }
    }

    private static func pastTheRound(_ chunk: PartChunk) -> Frame {
        Frame.refusal("past step \(chunk.step): not in round \(chunk.roundID)", code: TransportErrorCode.pastTheRound)
    }

    /// Counts chunk bytes of round `roundID` copied out of another process.
    func countSameHostCopy(_ byteCount: Int, roundID: UInt64) {
        sameHostBytesCopied[roundID, default: 0] += byteCount
    }

    /// Chunk bytes of round `roundID` copied out of other processes. Complete once this
    /// peer's round is over: as an owner it copied every chunk before averaging, as a member
    /// every average before finishing.
    func sameHostBytesCopied(roundID: UInt64) -> Int {
        sameHostBytesCopied[roundID] ?? 0
    }

    // MARK: rounds

    /// Runs one all-reduce over `vector` with the members of `plan`; the future completes when
    /// the round is over, whatever happened to the other members.
    func startRound(plan: GroupPlan, me: PeerID, vector: UnsafeMutableBufferPointer<Float>,
                    settings: AllReduceRound.Settings, endpoints: [PeerID: Endpoint]) -> EventLoopFuture<AllReduceResult> {
        precondition(round == nil, "a round is already running for step \(round?.plan.step ?? 0)")
        let promise = eventLoop.makePromise(of: AllReduceResult.self)
        roundPromise = promise
        roundEndpoints = endpoints
        exposedAverages = Array(exposedAverages.suffix(1)) + [ExposedAverages(roundID: plan.id)]
        sameHostBytesCopied = sameHostBytesCopied.filter { $0.key == plan.id }
        roundLease.grant(roundID: plan.id)
        probeSameHostPeers(of: plan, me: me)
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

    private func execute(_ actions: [AllReduceRound.Action]) {
        for action in actions {
            switch action {
            case .sendPartChunk(let reference, let owner):
                unsent[owner, default: []].append(reference)
                sendParts(to: owner)
            case .sendAveragedChunk(let reference, let peers):
                guard let round else { continue }
                var inline: [UInt8]?
                var local: [UInt8]?
                for peer in peers {
                    let key = PendingKey(peer: peer, part: reference.part, chunk: reference.chunk)
                    guard let (reply, isLocal) = pending.removeValue(forKey: key) else { continue }
                    if isLocal {
                        local = local ?? exposeAverage(of: reference, in: round)
                        reply.succeed(Frame(type: .averagedPartLocal, requestID: 0, payload: local!))
                    } else {
                        inline = inline ?? round.averagedChunkPayload(for: reference)
                        reply.succeed(Frame(type: .averagedPart, requestID: 0, payload: inline!))
                    }
                }
            case .wake(let time):
                let deadline = NIODeadline.uptimeNanoseconds(UInt64(max(0, time.nanoseconds)))
                roundTimers.append(eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                    feedRound { $0.onDeadline(now: Self.now()) }
                })
            case .checkAlive(let peer):
                checkAlive(peer)
            case .dropPeer(let peer, let reason):
                logger.info("left out of the round", metadata: ["peer.id": "\(peer)", "reason": "\(reason)"])
                for key in pending.keys where key.peer == peer {
                    pending.removeValue(forKey: key)?.reply.succeed(Frame.refusal("left out: \(reason)"))
                }
                transport?.reportOffence(Offence(.badPart, reason), by: peer)
            case .finished(let result):
                finishRound(result)
            }
        }
    }

    /// Sends queued chunks to `owner` while its window has room. The owner answers chunk k only
    /// once every member's chunk k is in, so sent chunks stay in flight for a while; the window
    /// keeps them within the transport's in-flight limit and within half the connection's send
    /// buffer (the other half carries this member's averages the other way), so the link
    /// stays busy without refusing requests for backpressure.
    private func sendParts(to owner: PeerID) {
        guard let round, let settings = transport?.settings else { return }
        let chunkBytes = round.settings.compression.encodedByteCount(elementCount: round.settings.chunkSize)
        let window = min(settings.maxOutboundRequestsPerPeer, max(1, settings.sendBufferHighWatermark / 2 / chunkBytes))
        while inFlight[owner, default: 0] < window, let reference = unsent[owner]?.popFirst() {
            inFlight[owner, default: 0] += 1
            sendPart(reference, to: owner)
        }
    }

    /// Tries `owner`'s queued chunks again once its full link has had a moment to drain.
    private func retryLater(_ owner: PeerID, round roundID: UInt64) {
        guard retrying.insert(owner).inserted else { return }
        eventLoop.assumeIsolated().scheduleTask(in: Self.backpressureRetryDelay) { [self] in
            retrying.remove(owner)
            if round?.plan.id == roundID { sendParts(to: owner) }
        }
    }

    private func sendPart(_ reference: AllReduceRound.ChunkReference, to owner: PeerID) {
        guard let round, let transport, let endpoint = roundEndpoints[owner] else {
            failPeer(owner)
            return
        }
        let roundID = round.plan.id
        let key = PendingKey(peer: owner, part: reference.part, chunk: reference.chunk)
        let local = sameHostCopies && sameHost.processID(of: owner) != nil
        let type: MessageType = local ? .averagePartLocal : .averagePart
        let payload = local ? exposePartChunk(reference, key: key) : round.partChunkPayload(for: reference)
        let timeout = TimeAmount(round.settings.roundTimeout)
        transport.request(type, payload: payload, to: endpoint, expecting: owner, timeout: timeout)
            .hop(to: eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                guard self.round?.plan.id == roundID else { return }
                exposedChunks[key] = nil
                inFlight[owner, default: 1] -= 1
                if case .failure(TransportError.backpressure) = result {
                    // The link is full, not broken: try this chunk again once it has drained a little.
                    unsent[owner, default: []].prepend(reference)
                    retryLater(owner, round: roundID)
                    return
                }
                switch result.map({ averagedChunk(from: $0.frame, owner: owner) }) {
                case .success(.averaged(let averaged)):
                    feedRound { $0.onAveragedChunk(averaged, from: owner, now: Self.now()) }
                case .success(.writtenInPlace(let reference)):
                    feedRound {
                        $0.onAveragedChunkWritten(part: reference.part, chunk: reference.chunk, byteCount: reference.memory.byteCount,
                                                  from: owner, now: Self.now())
                    }
                case .success(.sameHostRefused) where local:
                    // The owner could not copy the chunk: send it again, and the rest, through the socket.
                    unsent[owner, default: []].prepend(reference)
                case .success(.ownerPastTheRound):
                    ownersPastTheRound.insert(owner)
                    unsent[owner] = nil
                    feedRound { $0.onPeerFailed(owner, now: Self.now()) }
                case .success(.sameHostRefused), .success(.failed), .failure:
                    unsent[owner] = nil
                    feedRound { $0.onPeerFailed(owner, now: Self.now()) }
                }
                if self.round?.plan.id == roundID { sendParts(to: owner) }
            }
    }

    /// Pings a sender that owes this owner chunks but has gone silent: over its connection,
    /// or by dialling its address when it has one (a client-mode member has none). A refused
    /// dial, a lost connection, a different peer at its address, or no connection to a member
    /// that has no address, all mean it is gone.
    private func checkAlive(_ peer: PeerID) {
        guard let round, let transport, checkingAlive.insert(peer).inserted else { return }
        let roundID = round.plan.id
        let ping = DHTMessage.ping(sender: nil).encodedPayload()
        let reply = roundEndpoints[peer].map {
            transport.request(.ping, payload: ping, to: $0, expecting: peer, timeout: Self.aliveCheckTimeout)
        } ?? transport.request(.ping, payload: ping, overOpenConnectionTo: peer, timeout: Self.aliveCheckTimeout)
        reply.hop(to: eventLoop).assumeIsolated().whenComplete { [self] result in
            checkingAlive.remove(peer)
            guard self.round?.plan.id == roundID, case .failure(let error) = result, Self.meansGone(error) else { return }
            logger.info("a silent sender is gone", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            failPeer(peer)
        }
    }

    /// Whether a failed ping shows the peer gone, not merely slow, busy (a peer at its
    /// connection limit closes the handshake early) or this node busy.
    private static func meansGone(_ error: any Error) -> Bool {
        switch error {
        case TransportError.connectionClosed, HandshakeError.unexpectedPeer:
            true
        default:
            false
        }
    }

    private func failPeer(_ peer: PeerID) {
        feedRound { $0.onPeerFailed(peer, now: Self.now()) }
    }

    private func finishRound(_ result: AllReduceResult) {
        // Before anything else: an owner still copying a chunk must see that it may be stale.
        roundLease.revoke()
        exposedChunks = [:]
        round = nil
        roundTimers.forEach { $0.cancel() }
        roundTimers = []
        unsent = [:]
        inFlight = [:]
        retrying = []
        checkingAlive = []
        for waiting in pending.values { waiting.reply.succeed(Frame.refusal("round is over")) }
        pending = [:]
        var result = result
        result.pastTheRound = result.leftOut.filter(ownersPastTheRound.contains)
        // They sent nothing because they are elsewhere, not because they hold rounds up.
        result.silent.removeAll(where: ownersPastTheRound.contains)
        ownersPastTheRound = []
        roundPromise?.succeed(result)
        roundPromise = nil
    }
}
