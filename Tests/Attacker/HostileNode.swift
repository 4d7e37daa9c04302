import CohortBase
import StateSync
import Averaging
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import Node
import Peer
import Wire

/// One identity of the attacker: a DHT node on 127.0.0.1 that joins the run and, every tick,
/// publishes the records of its attack. Nothing here is part of the `cohort` binary.
final class HostileNode: @unchecked Sendable {
    let attack: Attack
    let service: DHTService
    let keys: RunKeys
    let stateBytes: Int
    /// The state it serves to whoever downloads its forged announcement.
    let server = StateServer(keep: 2)
    /// Answers members' chunks of this identity's part, when it takes part in rounds.
    let owner: PoisonedOwner
    private let lock = NSLock()
    private var chunksServed = 0
    private var servedStep: Int?

    init(attack: Attack, service: DHTService, keys: RunKeys, stateBytes: Int) {
        self.attack = attack
        self.service = service
        self.keys = keys
        self.stateBytes = stateBytes
        owner = PoisonedOwner(transport: service.transport)
    }

    /// Starts a node for `attack`, with an identity whose id is below every honest one (so that
    /// it leads, and is the leader others wait for, whenever it declares).
    static func start(_ attack: Attack, join: Endpoint, keys: RunKeys, stateBytes: Int, eventLoop: EventLoop,
                      logger: Logger) async throws -> HostileNode {
        var generator = SystemRandomNumberGenerator()
        var identity = PeerIdentity(using: &generator)
        while identity.peerID.bytes[0] != 0 { identity = PeerIdentity(using: &generator) }
        var settings = DHTService.Settings()
        settings.transport.listen = Endpoint(host: "127.0.0.1", port: 0)
        let box = NodeBox()
        let service = try await DHTService.start(identity: identity, settings: settings, eventLoop: eventLoop, logger: logger,
                                                 serveOther: { request in box.node!.serve(request, on: eventLoop) })
        let node = HostileNode(attack: attack, service: service, keys: keys, stateBytes: stateBytes)
        box.node = node
        _ = try await service.bootstrap([join])
        return node
    }

    var served: Int { lock.withLock { chunksServed } }

    private func serve(_ request: Transport.InboundRequest, on eventLoop: EventLoop) -> EventLoopFuture<Frame> {
        if request.frame.type == .averagePart { return owner.serve(request) }
        do {
            let reply = try server.answer(request.frame)
            if reply.type == .stateChunk { lock.withLock { chunksServed += 1 } }
            return eventLoop.makeSucceededFuture(reply)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// Publishes this tick's records, given the newest honest state (`step`, `hash`) it read.
    func tick(honestStep step: Int, honestHash hash: [UInt8], targetBatch: Int) async {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        switch attack {
        case .stateHijack:
            let hijacked = step + 1
            if lock.withLock({ servedStep }) != hijacked {
                let snapshot = StateSnapshot(step: hijacked, bytes: [UInt8](repeating: 0x7F, count: stateBytes))
                server.publish(snapshot)
                lock.withLock { servedStep = hijacked }
                await announce(step: hijacked, hash: snapshot.hash, bytes: stateBytes, time: now + 3_600_000)
            }
            await publish(keys.progress, PeerProgress(step: hijacked, samplesAccumulated: targetBatch, samplesPerSecond: 1e6, loss: 0.1,
                                                  timestampMilliseconds: now + 3_600_000).encoded)
        case .farStep:
            await publish(keys.progress, PeerProgress(step: Int(Int32.max), samplesAccumulated: Int(Int32.max), samplesPerSecond: 9e8,
                                                  loss: 0.1, timestampMilliseconds: now).encoded)
        case .emptyState:
            await announce(step: step + 1, hash: hash, bytes: 0, time: now)
        case .hugeState:
            await announce(step: step + 1, hash: hash, bytes: 1 << 40, time: now)
        case .forgedDeclaration:
            // Declares the absent peer 0x00…00, under its own subkey: a round led by that
            // "peer" would never get a plan.
            let absent = PeerID(bytes: [UInt8](repeating: 0, count: 32))!
            await publish(keys.declarations(step: step, state: hash),
                      Declaration(step: UInt64(step), peer: absent, address: "127.0.0.1:9", bandwidth: 1 << 40, clientMode: false,
                                  samples: 1 << 30).encoded())
        case .poisonedAverage, .unreadReplies:
            // Each runs its own loop (`PoisonedAverager`, `UnreadReplies`).
            break
        case .silentLeader:
            // Takes part as the lowest id at the honest step and state, then never sends a plan
            // or a chunk.
            let me = service.peerID
            let endpoint = service.endpoint
            await publish(keys.progress, PeerProgress(step: step, samplesAccumulated: 1, samplesPerSecond: 1, loss: 2,
                                                  timestampMilliseconds: now).encoded)
            await publish(keys.declarations(step: step, state: hash),
                      Declaration(step: UInt64(step), peer: me, address: "\(endpoint.host):\(endpoint.port)", bandwidth: 1 << 40,
                                  clientMode: false, samples: 1 << 30).encoded())
        }
    }

    private func announce(step: Int, hash: [UInt8], bytes: Int, time: UInt64) async {
        let endpoint = service.endpoint
        await publish(keys.state, StateAnnouncement(step: step, stateHash: hash, stateBytes: bytes, host: endpoint.host,
                                                port: endpoint.port, timestampMilliseconds: time).encoded)
    }

    /// Stores `value` under `key` and this identity's own subkey, for two minutes.
    func publish(_ key: RecordKey, _ value: [UInt8]) async {
        _ = try? await service.put(key: key, subkey: service.peerID.bytes, value: value, expiresAt: SystemClock().now().wall + .seconds(120))
    }
}

/// Lets the service's request handler reach the node created after the service.
private final class NodeBox: @unchecked Sendable {
    var node: HostileNode?
}
