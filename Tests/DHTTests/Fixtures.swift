import CohortBase
import DHT
import Wire

/// Identities, contacts and a tiny synchronous network for DHT tests.
enum Fixtures {
    static func identities(_ count: Int, seed: UInt64) -> [PeerIdentity] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in PeerIdentity(using: &generator) }
    }

    static func randomIDs(_ count: Int, seed: UInt64) -> [PeerID] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            PeerID(words: (generator.next(), generator.next(), generator.next(), generator.next()))
        }
    }

    /// Keys at the same points as `randomIDs(count, seed:)`.
    static func randomKeys(_ count: Int, seed: UInt64) -> [DHTID] {
        randomIDs(count, seed: seed).map(DHTID.init)
    }

    static func contact(_ id: PeerID, port: Int = 7000) -> Contact {
        Contact(id: id, endpoint: Endpoint(host: "10.0.0.\(port % 250)", port: UInt16(port)))
    }

    static func bruteForceClosest(_ ids: [PeerID], to target: DHTID, count: Int) -> [PeerID] {
        Array(ids.sorted { DHTID($0).distance(to: target) < DHTID($1).distance(to: target) }.prefix(count))
    }
}

extension Array where Element == DHTNode.Directive {
    /// The requests among the directives, in order.
    var sends: [(message: DHTMessage, requestID: UInt64, endpoint: Endpoint, expecting: PeerID?)] {
        compactMap {
            guard case .send(let message, let requestID, let endpoint, let expecting) = $0 else { return nil }
            return (message, requestID, endpoint, expecting)
        }
    }

    var replies: [DHTMessage] {
        compactMap {
            guard case .reply(let message, _) = $0 else { return nil }
            return message
        }
    }

    var completions: [DHTNode.OperationResult] {
        compactMap {
            guard case .completed(_, let result) = $0 else { return nil }
            return result
        }
    }
}

/// Nodes that exchange messages at once, in order, with no sockets; a request to a stopped
/// node times out. Enough for end-to-end tests; the simulator adds latency and loss.
struct TestNetwork {
    var nodes: [DHTNode] = []
    var identities: [PeerIdentity] = []
    var stopped: Set<Int> = []
    var results: [Int: [DHTNode.OperationResult]] = [:]
    var now: UInt64 = 1_000_000

    init(count: Int, seed: UInt64, settings: DHTNode.Settings = DHTNode.Settings()) {
        identities = Fixtures.identities(count, seed: seed)
        for (index, identity) in identities.enumerated() {
            nodes.append(DHTNode(ownID: identity.peerID, ownContact: Self.contact(of: identity, index: index),
                                 settings: settings, seed: UInt64(index), now: .at(now)))
        }
    }

    static func endpoint(_ index: Int) -> Endpoint { Endpoint(host: "node", port: UInt16(index + 1)) }
    static func contact(of identity: PeerIdentity, index: Int) -> Contact { Contact(id: identity.peerID, endpoint: endpoint(index)) }

    /// Runs `directives` of node `index` and everything they cause, until quiet.
    mutating func run(_ directives: [DHTNode.Directive], of index: Int) {
        var queue: [(node: Int, directives: [DHTNode.Directive])] = [(index, directives)]
        while !queue.isEmpty {
            let (node, batch) = queue.removeFirst()
            for case .send(let message, let requestID, let endpoint, _) in batch {
                let target = Int(endpoint.port) - 1
                if stopped.contains(target) {
                    queue.append((node, nodes[node].onRequestTimeout(requestID: requestID, now: .at(now))))
                    continue
                }
                let answer = nodes[target].onRequest(message, requestID: requestID, from: nodes[node].ownID, now: .at(now))
                queue.append((target, answer.filter { if case .reply = $0 { false } else { true } }))
                for reply in answer.replies {
                    queue.append((node, nodes[node].onResponse(reply, requestID: requestID, from: nodes[target].ownID, now: .at(now))))
                }
            }
            results[node, default: []] += batch.completions
        }
    }

    /// Node `index` joins through node `via`.
    mutating func join(_ index: Int, via: Int?) {
        let (_, directives) = nodes[index].bootstrap(from: via.map { [Self.endpoint($0)] } ?? [], now: .at(now))
        run(directives, of: index)
    }

    mutating func put(_ record: SignedRecord, from index: Int) -> DHTNode.OperationResult? {
        let (_, directives) = nodes[index].put(record, now: .at(now))
        run(directives, of: index)
        return results[index]?.popLast()
    }

    mutating func get(_ key: RecordKey, from index: Int) -> DHTNode.OperationResult? {
        let (_, directives) = nodes[index].get(key, now: .at(now))
        run(directives, of: index)
        return results[index]?.popLast()
    }

    /// Indices of the live nodes holding a record under `key`.
    func holders(of key: RecordKey) -> Set<Int> {
        Set(nodes.indices.filter { !nodes[$0].store.records(under: key, now: .at(now)).isEmpty })
    }
}

/// The tests' virtual time is one count of milliseconds, which every clock reads alike, as in
/// the simulator: `.at(ms)` is that moment as whichever instant a call takes.
extension MonotonicInstant {
    static func at(_ milliseconds: UInt64) -> MonotonicInstant { MonotonicInstant(nanoseconds: Int64(milliseconds) * 1_000_000) }
}

extension WallClockInstant {
    static func at(_ milliseconds: UInt64) -> WallClockInstant { WallClockInstant(millisecondsSinceEpoch: milliseconds) }
}

extension ClockReading {
    static func at(_ milliseconds: UInt64) -> ClockReading { ClockReading(monotonic: .at(milliseconds), wall: .at(milliseconds)) }
}
