import CohortBase
import Foundation
import Wire

/// Runs many `DHTNode`s in one process over a simulated network: a queue of messages in
/// virtual time with per-message latency and optional loss, no sockets. The nodes are the
/// same state machines the daemon runs.
///
/// A run: nodes join one after another (each bootstraps from a random earlier node), random
/// writers put signed records (replicated to the k closest, Kademlia §2.3), a fraction `churn`
/// of the nodes is removed at once, then random live nodes get random records.
public enum DHTSimulation {
    /// The simulated links.
    public struct Network: Sendable, Equatable {
        /// One-way latency of a message, drawn uniformly in this range, in ms.
        public var latency: ClosedRange<UInt64> = 5...50
        /// Probability that a message is lost.
        public var lossRate = 0.0

        public init(latency: ClosedRange<UInt64> = 5...50, lossRate: Double = 0) {
            self.latency = latency
            self.lossRate = lossRate
        }
    }

    /// One run's parameters.
    public struct Configuration: Sendable, Equatable {
        public var nodes: Int
        /// Fraction of nodes removed after the records are stored, in [0, 1).
        public var churn: Double
        /// Gets issued after the removal.
        public var lookups: Int
        /// Records stored before the removal.
        public var records: Int
        public var seed: UInt64
        public var network = Network()
        public var settings = DHTNode.Settings()

        public init(nodes: Int, churn: Double, lookups: Int, records: Int = 100, seed: UInt64) {
            self.nodes = nodes
            self.churn = churn
            self.lookups = lookups
            self.records = records
            self.seed = seed
        }
    }

    /// Simulates `nodes` nodes, removes a fraction `churn` of them, and measures `lookups` gets.
    public static func run(nodes: Int, churn: Double, lookups: Int, seed: UInt64) -> DHTSimulationReport {
        run(Configuration(nodes: nodes, churn: churn, lookups: lookups, seed: seed))
    }

    /// Simulates one configured run.
    public static func run(_ configuration: Configuration) -> DHTSimulationReport {
        precondition(configuration.nodes >= 1 && configuration.nodes < Int(UInt16.max), "nodes \(configuration.nodes)")
        precondition((0..<1).contains(configuration.churn), "churn \(configuration.churn)")
        var world = SimulatedNetwork(configuration)
        world.joinAll()
        let placed = world.storeRecords()
        let removed = world.removeNodes(fraction: configuration.churn)
        let gets = world.measureGets()
        let hops = gets.hops.sorted()
        let n = Double(configuration.nodes)
        let k = Double(configuration.settings.k)
        return DHTSimulationReport(
            nodes: configuration.nodes, k: configuration.settings.k, alpha: configuration.settings.alpha,
            churn: configuration.churn, removedNodes: removed,
            records: world.records.count, recordsPlaced: placed,
            lookups: configuration.lookups, successes: gets.successes,
            successRate: configuration.lookups == 0 ? 1 : Double(gets.successes) / Double(configuration.lookups),
            hopsP50: DHTSimulationReport.percentile(hops, 0.5),
            hopsP90: DHTSimulationReport.percentile(hops, 0.9),
            hopsP99: DHTSimulationReport.percentile(hops, 0.99),
            hopsMax: hops.last ?? 0,
            hopsBound: 2 * log2(n) / log2(k) + 2,
            queriesPerGet: hops.isEmpty ? 0 : Double(gets.queries) / Double(hops.count),
            requests: world.requests, timeouts: world.timeouts,
            meanRoutingTableSize: world.meanRoutingTableSize,
            virtualSeconds: Double(world.now.wall.millisecondsSinceEpoch) / 1000)
    }
}

/// The simulated world: nodes, who is alive, and the event queue.
private struct SimulatedNetwork {
    enum Event: Sendable {
        case request(to: Int, from: Int, message: DHTMessage, requestID: UInt64)
        case response(to: Int, from: Int, message: DHTMessage, requestID: UInt64)
        case timeout(node: Int, requestID: UInt64)
    }

    let configuration: DHTSimulation.Configuration
    var nodes: [DHTNode] = []
    var identities: [PeerIdentity] = []
    var alive: [Bool]
    var queue = EventQueue<MonotonicInstant, Event>()
    var generator: SplitMix64
    /// The virtual time, moved to each event as it is taken from the queue: simulated nodes'
    /// clocks agree and never jump.
    let clock = ManualClock(wall: WallClockInstant(millisecondsSinceEpoch: 1_000_000))
    var completed: [Int: [DHTNode.OperationID: DHTNode.OperationResult]] = [:]
    var records: [(writer: Int, record: SignedRecord)] = []
    var requests = 0
    var timeouts = 0
    var findValueQueries = 0

    init(_ configuration: DHTSimulation.Configuration) {
        self.configuration = configuration
        self.generator = SplitMix64(seed: configuration.seed)
        self.alive = Array(repeating: true, count: configuration.nodes)
        for index in 0..<configuration.nodes {
            let identity = PeerIdentity(using: &generator)
            let contact = Contact(id: identity.peerID, endpoint: Self.endpoint(of: index))
            identities.append(identity)
            nodes.append(DHTNode(ownID: identity.peerID, ownContact: contact, settings: configuration.settings,
                                 seed: generator.next(), now: now.monotonic))
        }
    }

    var now: ClockReading { clock.now() }

    static func endpoint(of index: Int) -> Endpoint { Endpoint(host: "sim", port: UInt16(index + 1)) }

    var meanRoutingTableSize: Double {
        let live = nodes.indices.filter { alive[$0] }
        return live.isEmpty ? 0 : Double(live.reduce(0) { $0 + nodes[$1].routingTable.count }) / Double(live.count)
    }

    /// Each node bootstraps from a random earlier node and the network settles before the next.
    mutating func joinAll() {
        for index in nodes.indices {
            let seeds = index == 0 ? [] : [Self.endpoint(of: Int.random(in: 0..<index, using: &generator))]
            let (_, directives) = nodes[index].bootstrap(from: seeds, now: now)
            handle(directives, of: index, replyingTo: nil)
            runUntilIdle()
        }
    }

    /// Random writers put one signed record each; returns how many reached at least one peer.
    mutating func storeRecords() -> Int {
        var placed = 0
        for number in 0..<configuration.records {
            let writer = Int.random(in: nodes.indices, using: &generator)
            let record = identities[writer].signRecord(
                key: RecordKey(hashing: "simulation/record/\(number)"), subkey: identities[writer].peerID.bytes,
                value: Array("value \(number)".utf8), expiresAt: now.wall + .seconds(3_600))
            records.append((writer, record))
            let (operation, directives) = nodes[writer].put(record, now: now)
            handle(directives, of: writer, replyingTo: nil)
            runUntilIdle()
            if case .stored(let replicas, _, _)? = completed[writer]?.removeValue(forKey: operation), replicas > 0 {
                placed += 1
            }
        }
        return placed
    }

    /// Removes `fraction` of the nodes at random, all at once.
    mutating func removeNodes(fraction: Double) -> Int {
        let count = Int((fraction * Double(nodes.count)).rounded())
        for index in Array(nodes.indices).shuffled(using: &generator).prefix(count) { alive[index] = false }
        return count
    }

    /// Random live nodes get random records; returns successes, hops and queries sent.
    mutating func measureGets() -> (successes: Int, hops: [Int], queries: Int) {
        let live = nodes.indices.filter { alive[$0] }
        var successes = 0
        var hops: [Int] = []
        guard !live.isEmpty, !records.isEmpty else { return (0, [], 0) }
        findValueQueries = 0
        for _ in 0..<configuration.lookups {
            let reader = live.randomElement(using: &generator)!
            let wanted = records.randomElement(using: &generator)!.record
            let (operation, directives) = nodes[reader].get(wanted.key, now: now)
            handle(directives, of: reader, replyingTo: nil)
            runUntilIdle()
            guard case .found(let found, let lookupHops)? = completed[reader]?.removeValue(forKey: operation) else { continue }
            hops.append(lookupHops)
            if found.contains(wanted) { successes += 1 }
        }
        return (successes, hops, findValueQueries)
    }

    private mutating func runUntilIdle() {
        while let (time, event) = queue.popFirst() {
            clock.advance(to: time)
            switch event {
            case .request(let to, let from, let message, let requestID):
                guard alive[to] else { continue }
                handle(nodes[to].onRequest(message, requestID: requestID, from: nodes[from].ownID, now: now), of: to,
                       replyingTo: (from, requestID))
            case .response(let to, let from, let message, let requestID):
                guard alive[to] else { continue }
                handle(nodes[to].onResponse(message, requestID: requestID, from: nodes[from].ownID, now: now),
                       of: to, replyingTo: nil)
            case .timeout(let node, let requestID):
                guard alive[node] else { continue }
                timeouts += 1
                handle(nodes[node].onRequestTimeout(requestID: requestID, now: now), of: node, replyingTo: nil)
            }
        }
    }

    private mutating func handle(_ directives: [DHTNode.Directive], of node: Int, replyingTo request: (node: Int, id: UInt64)?) {
        for directive in directives {
            switch directive {
            case .send(let message, let requestID, let endpoint, _):
                requests += 1
                if case .findValue = message { findValueQueries += 1 }
                let target = Int(endpoint.port) - 1
                if alive[target] && !isLost() {
                    queue.schedule(.request(to: target, from: node, message: message, requestID: requestID), at: now.monotonic + latency())
                } else {
                    queue.schedule(.timeout(node: node, requestID: requestID), at: now.monotonic + configuration.settings.requestTimeout)
                }
            case .reply(let message, let requestID):
                guard let request else { preconditionFailure("node \(node) replied outside a request") }
                if isLost() {
                    queue.schedule(.timeout(node: request.node, requestID: request.id), at: now.monotonic + configuration.settings.requestTimeout)
                } else {
                    queue.schedule(.response(to: request.node, from: node, message: message, requestID: requestID), at: now.monotonic + latency())
                }
            case .completed(let operation, let result):
                completed[node, default: [:]][operation] = result
            case .offence(let peer, let offence):
                preconditionFailure("node \(node) blamed \(peer) for \(offence), but every simulated node is honest")
            }
        }
    }

    private mutating func latency() -> Duration {
        .milliseconds(UInt64.random(in: configuration.network.latency, using: &generator))
    }

    private mutating func isLost() -> Bool {
        configuration.network.lossRate > 0 && Double.random(in: 0..<1, using: &generator) < configuration.network.lossRate
    }
}
