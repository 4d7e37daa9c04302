import CohortBase
import Admission
import DHT
import Foundation
import Logging
import NIOCore
import Wire

/// A live DHT node: the `DHTNode` state machine driven by real connections and the real clock.
///
/// The shell has almost no logic: it feeds requests, replies and timeouts to the state
/// machine on the transport's event loop and executes the directives it returns (send a
/// request, reply, complete an operation). The public operations are async and may be called
/// from anywhere.
public final class DHTService: Sendable {
    /// How the service runs; documented defaults.
    public struct Settings: Sendable {
        public var transport = TransportSettings()
        public var dht = DHTNode.Settings()
        /// How often `DHTNode.onTick` runs (record expiry, bucket refresh, republish).
        public var tickInterval = TimeAmount.seconds(10)
        /// A client neither advertises itself nor is added to others' routing tables.
        public var isClient = false
        /// How often an admitted-only node reads the run's revocation list from the DHT.
        public var revocationRefreshInterval = TimeAmount.seconds(15)
        /// The time the node's events carry.
        public var clock: any ProtocolClock = SystemClock()

        public init() {}
    }

    /// Where a put ended up.
    public struct StoreOutcome: Equatable, Sendable {
        /// Peers (this node included) that accepted the record.
        public let replicas: Int
        /// Peers asked to store it.
        public let contacted: Int
    }

    /// Why an operation could not run.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The record does not validate here, so it was not sent.
        case refused(StoreStatus)
        /// The service is shut down.
        case shutDown
        /// A peer asked this node to store a record whose signature does not verify.
        case forgedRecord

        public var description: String {
            switch self {
            case .refused(let status): "record refused: \(status)"
            case .shutDown: "DHT service is shut down"
            case .forgedRecord: "asked to store a record whose signature does not verify"
            }
        }
    }

    public let transport: Transport
    private let state: NIOLoopBound<DHTServiceState>

    /// This node's peer id.
    public var peerID: PeerID { transport.identity.peerID }
    /// The endpoint others dial to reach this node.
    public var endpoint: Endpoint { transport.advertisedEndpoint }

    private init(transport: Transport, state: NIOLoopBound<DHTServiceState>) {
        self.transport = transport
        self.state = state
    }

    /// Starts listening and ticking; the node knows no peers until `bootstrap`.
    /// Requests outside the DHT's message family go to `serveOther` (averaging, state sync);
    /// without it they fail, which closes the connection.
    ///
    /// With admission rules in `settings.transport.admission` the node stores only records
    /// their owner sent it (the owner proved its token on that connection), and follows the
    /// run's revocation list: it reads it every `revocationRefreshInterval` and after each
    /// bootstrap, closes revoked peers' connections and drops their records.
    public static func start(identity: PeerIdentity, settings: Settings = Settings(), eventLoop: EventLoop,
                             logger: Logger,
                             serveOther: (@Sendable (Transport.InboundRequest) -> EventLoopFuture<Frame>)? = nil)
        async throws -> DHTService {
        try await eventLoop.flatSubmit {
            let state = NIOLoopBound(DHTServiceState(eventLoop: eventLoop, logger: logger, clock: settings.clock), eventLoop: eventLoop)
            let revocationKey = settings.transport.admission.rules.map {
                RecordKey(hashing: RevocationList.recordName(runName: $0.runName))
            }
            let dhtSettings = {
                var dht = settings.dht
                dht.storesOnlyFromOwners = revocationKey != nil
                return dht
            }()
            return Transport.start(identity: identity, settings: settings.transport, eventLoop: eventLoop, logger: logger) { request in
                switch request.frame.type.family {
                case .dht, .control: return state.value.serve(request)
                default:
                    guard let serveOther else { return eventLoop.makeFailedFuture(WireError.unknownMessageType) }
                    return serveOther(request)
                }
            }.map { transport in
                let contact = settings.isClient ? nil : Contact(id: identity.peerID, endpoint: transport.advertisedEndpoint)
                let node = DHTNode(ownID: identity.peerID, ownContact: contact, settings: dhtSettings,
                                   seed: UInt64.random(in: .min ... .max), now: settings.clock.now().monotonic)
                state.value.begin(node: node, transport: transport, tickInterval: settings.tickInterval)
                if let revocationKey {
                    state.value.followRevocations(under: revocationKey, every: settings.revocationRefreshInterval)
                }
                return DHTService(transport: transport, state: state)
            }
        }.get()
    }

    /// Joins the network through the peers at `endpoints` (Kademlia §2.3); returns the number
    /// of contacts in the routing table afterwards (0: none of them answered).
    public func bootstrap(_ endpoints: [Endpoint]) async throws -> Int {
        let result = try await run { $0.bootstrap(from: endpoints, now: $1) }
        guard case .bootstrapped(let contacts) = result else { preconditionFailure("bootstrap ended with \(result)") }
        if contacts > 0 { _ = try await refreshRevocations() }
        return contacts
    }

    /// Reads the run's revocation list now and applies it when newer than the one held; the
    /// list applied, nil when there was none newer (or the node admits anyone).
    @discardableResult
    public func refreshRevocations() async throws -> RevocationList? {
        let state = self.state
        return try await transport.eventLoop.flatSubmit { state.value.refreshRevocations() }.get()
    }

    /// Applies `list` (the coordinator's own): closes revoked peers' connections and drops
    /// their records. False when it is not newer than the list held; fails when it is not the
    /// run's or this node admits anyone.
    public func applyRevocations(_ list: RevocationList) async throws -> Bool {
        let state = self.state
        return try await transport.eventLoop.flatSubmit { state.value.applyRevocations(list) }.get()
    }

    /// The last reason a peer gave for refusing this node's admission, if any did.
    public func lastRefusal() async throws -> AdmissionRefusal? {
        try await transport.lastRefusal().get()
    }

    /// Signs and stores `value` under (`key`, `subkey`) until `expiresAt` on the k closest peers.
    public func put(key: RecordKey, subkey: [UInt8], value: [UInt8], expiresAt: WallClockInstant) async throws -> StoreOutcome {
        let record = transport.identity.signRecord(key: key, subkey: subkey, value: value, expiresAt: expiresAt)
        switch try await run({ $0.put(record, now: $1) }) {
        case .stored(let replicas, let contacted, _): return StoreOutcome(replicas: replicas, contacted: contacted)
        case .refused(let status): throw Failure.refused(status)
        case let other: preconditionFailure("put ended with \(other)")
        }
    }

    /// The merged, unexpired, verified records under `key`, one per subkey.
    public func get(_ key: RecordKey) async throws -> [SignedRecord] {
        let result = try await run { $0.get(key, now: $1) }
        guard case .found(let records, _) = result else { preconditionFailure("get ended with \(result)") }
        return records
    }

    /// Contacts in the routing table.
    public func routingTableCount() async throws -> Int {
        let state = self.state
        return try await transport.eventLoop.submit { state.value.node?.routingTable.count ?? 0 }.get()
    }

    /// Fails every operation in progress, stops ticking, and closes every connection.
    public func shutdown() async {
        let state = self.state
        try? await transport.eventLoop.flatSubmit { state.value.shutdown() }.get()
    }

    private func run(_ start: @escaping @Sendable (inout DHTNode, ClockReading) -> (id: DHTNode.OperationID, directives: [DHTNode.Directive]))
        async throws -> DHTNode.OperationResult {
        let state = self.state
        return try await transport.eventLoop.flatSubmit { state.value.run(start) }.get()
    }
}
