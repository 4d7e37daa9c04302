import CohortBase
import Admission
import DHT
import Foundation
import Logging
import NIOCore
import Wire

/// The loop-confined half of `DHTService`: the state machine, the operations awaited, and the
/// directive executor.
final class DHTServiceState {
    private let eventLoop: EventLoop
    private let logger: Logger
    /// What every event to the node is stamped with.
    private let clock: any ProtocolClock
    private(set) var node: DHTNode?
    private var transport: Transport?
    private var waiting: [DHTNode.OperationID: EventLoopPromise<DHTNode.OperationResult>] = [:]
    private var tick: RepeatedTask?
    private var revocationRefresh: RepeatedTask?
    /// Where the run's revocation list lives; nil for a node that admits anyone.
    private var revocationKey: RecordKey?
    /// The transport's ban generation the node last heard of.
    private var banGeneration = 0

    init(eventLoop: EventLoop, logger: Logger, clock: any ProtocolClock) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.clock = clock
    }

    func begin(node: DHTNode, transport: Transport, tickInterval: TimeAmount) {
        self.node = node
        self.transport = transport
        let state = NIOLoopBound(self, eventLoop: eventLoop)
        tick = eventLoop.scheduleRepeatedTask(initialDelay: tickInterval, delay: tickInterval) { _ in
            state.value.event { $0.onTick(now: state.value.clock.now()) }
        }
    }

    /// Reads the revocation list under `key` every `interval`.
    func followRevocations(under key: RecordKey, every interval: TimeAmount) {
        revocationKey = key
        let state = NIOLoopBound(self, eventLoop: eventLoop)
        revocationRefresh = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            state.value.refreshRevocations().whenFailure { error in
                state.value.logger.debug("could not read the revocation list", metadata: ["reason": "\(error)"])
            }
        }
    }

    /// Gets the values under the revocation key and applies the newest valid list among them.
    func refreshRevocations() -> EventLoopFuture<RevocationList?> {
        guard let revocationKey, let transport else { return eventLoop.makeSucceededFuture(nil) }
        let state = NIOLoopBound(self, eventLoop: eventLoop)
        return run { $0.get(revocationKey, now: $1) }.flatMap { result in
            guard case .found(let records, _) = result else { preconditionFailure("get ended with \(result)") }
            return transport.applyNewestRevocations(of: records.map(\.value))
        }.map { applied in
            if let applied { state.value.node?.revokeOwners(applied.contents.revokedKeys) }
            return applied
        }
    }

    func applyRevocations(_ list: RevocationList) -> EventLoopFuture<Bool> {
        guard let transport else { return eventLoop.makeFailedFuture(DHTService.Failure.shutDown) }
        let state = NIOLoopBound(self, eventLoop: eventLoop)
        return transport.applyRevocations(list).map { applied in
            if applied { state.value.node?.revokeOwners(list.contents.revokedKeys) }
            return applied
        }
    }

    /// Starts an operation and returns a future for its result.
    func run(_ start: (inout DHTNode, ClockReading) -> (id: DHTNode.OperationID, directives: [DHTNode.Directive]))
        -> EventLoopFuture<DHTNode.OperationResult> {
        guard var node else { return eventLoop.makeFailedFuture(DHTService.Failure.shutDown) }
        syncBans(&node)
        let (operation, directives) = start(&node, clock.now())
        self.node = node
        let promise = eventLoop.makePromise(of: DHTNode.OperationResult.self)
        waiting[operation] = promise
        execute(directives, replyTo: nil)
        return promise.futureResult
    }

    /// Answers one request from an authenticated peer. A payload that does not decode, or a
    /// store carrying a record whose signature does not verify, fails the future, which closes
    /// the connection: honest nodes verify records before they store or forward them, so a
    /// forged one shows the sender misbehaves.
    func serve(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        let message: DHTMessage
        do {
            message = try DHTMessage(frame: request.frame)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        guard node != nil else { return reply(error: TransportErrorCode.unavailable, "node not running") }
        if let sender = Self.sender(of: message), sender.id != request.peer {
            return reply(error: TransportErrorCode.senderMismatch, "sender \(sender.id) is not the authenticated peer")
        }
        let replies = event { $0.onRequest(message, requestID: request.frame.requestID, from: request.peer, now: clock.now()) }
        if replies.contains(where: Self.refusesForgedRecord) {
            return eventLoop.makeFailedFuture(DHTService.Failure.forgedRecord)
        }
        let promise = eventLoop.makePromise(of: Frame.self)
        replies.forEach { execute([$0], replyTo: promise) }
        return promise.futureResult
    }

    func shutdown() -> EventLoopFuture<Void> {
        tick?.cancel()
        tick = nil
        revocationRefresh?.cancel()
        revocationRefresh = nil
        node = nil
        let failed = waiting
        waiting = [:]
        for promise in failed.values { promise.fail(DHTService.Failure.shutDown) }
        return transport?.shutdown() ?? eventLoop.makeSucceededVoidFuture()
    }

    /// Applies an event to the node and executes the directives, except those returned (replies).
    @discardableResult
    private func event(_ apply: (inout DHTNode) -> [DHTNode.Directive]) -> [DHTNode.Directive] {
        guard var node else { return [] }
        syncBans(&node)
        let directives = apply(&node)
        self.node = node
        let replies = directives.filter { if case .reply = $0 { true } else { false } }
        execute(directives.filter { if case .reply = $0 { false } else { true } }, replyTo: nil)
        return replies
    }

    private func execute(_ directives: [DHTNode.Directive], replyTo promise: EventLoopPromise<Frame>?) {
        for directive in directives {
            switch directive {
            case .send(let message, let requestID, let endpoint, let expecting):
                send(message, requestID: requestID, to: endpoint, expecting: expecting)
            case .reply(let message, let requestID):
                promise?.succeed(message.frame(requestID: requestID))
            case .completed(let operation, let result):
                waiting.removeValue(forKey: operation)?.succeed(result)
            case .offence(let peer, let offence):
                transport?.reportOffence(offence, by: peer)
            }
        }
    }

    private func send(_ message: DHTMessage, requestID: UInt64, to endpoint: Endpoint, expecting: PeerID?) {
        guard let transport, let timeout = node?.settings.requestTimeout else { return }
        let state = NIOLoopBound(self, eventLoop: eventLoop)
        transport.request(message.type, payload: message.encodedPayload(), to: endpoint, expecting: expecting,
                          timeout: TimeAmount(timeout))
            .whenComplete { result in
                let now = state.value.clock.now()
                switch result {
                case .success(let reply):
                    do {
                        let answer = try DHTMessage(frame: reply.frame)
                        state.value.event { $0.onResponse(answer, requestID: requestID, from: reply.peer, now: now) }
                    } catch {
                        state.value.transport?.reportOffence(
                            Offence(.protocolViolation, "sent a \(reply.frame.type) reply that does not decode: \(error)"), by: reply.peer)
                        state.value.event { $0.onRequestTimeout(requestID: requestID, now: now) }
                    }
                case .failure(let error):
                    state.value.logger.debug("request failed", metadata: ["address": "\(endpoint)", "reason": "\(error)"])
                    state.value.event { $0.onRequestTimeout(requestID: requestID, now: now) }
                }
            }
    }

    /// Tells the node the transport's bans when they changed since it last heard.
    private func syncBans(_ node: inout DHTNode) {
        guard let transport else { return }
        let bans = transport.currentBans
        guard bans.generation != banGeneration else { return }
        banGeneration = bans.generation
        node.onBansChanged(bans.peers)
    }

    private func reply(error code: UInt16, _ text: String) -> EventLoopFuture<Frame> {
        eventLoop.makeSucceededFuture(DHTMessage.error(.init(code: code, message: text)).frame(requestID: 0))
    }

    private static func refusesForgedRecord(_ reply: DHTNode.Directive) -> Bool {
        guard case .reply(.storeAck(let statuses), _) = reply else { return false }
        return statuses.contains(.badSignature)
    }

    private static func sender(of message: DHTMessage) -> Contact? {
        switch message {
        case .ping(let sender): sender
        case .findNode(let request): request.sender
        case .findValue(let request): request.sender
        case .store(let request): request.sender
        case .pong, .foundNodes, .value, .storeAck, .error: nil
        }
    }
}
