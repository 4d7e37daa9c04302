import CohortBase
import Averaging
import DHT
import Logging
import NIOCore
import Node
import StateSync
import Wire

/// One peer of `cohort bench allreduce`: a transport and the peer's handlers on one event loop,
/// running all-reduce rounds over a member list it is given (no DHT, no matchmaking), so a round
/// measures the transport and the reduction and nothing else.
///
/// Every member builds the same `GroupPlan` from the same list; round `r` uses step `r`, so each
/// round has its own id. The vector is this peer's own: random values at the start, then each
/// round's average feeds the next round.
public final class AllReduceBenchPeer: Sendable {
    /// How the peer runs its rounds.
    public struct Settings: Sendable {
        public var elementCount: Int
        public var round: AllReduceRound.Settings
        /// Added before every frame this peer sends (a test hook to make rounds last long enough
        /// to interrupt); nil sends at once.
        public var frameDelay: TimeAmount?
        /// Seeds the vector's random values.
        public var seed: UInt64
        /// Copy chunks straight out of the memory of members proven to run on this machine.
        public var sameHostCopies: Bool
        /// The address to listen on.
        public var listenHost = "127.0.0.1"
        /// Whether each round's chunk size is what peers choose for its plan
        /// (`AllReduceRound.Settings.chunkSize(for:)`) instead of `round.chunkSize`.
        public var chunkSizeFollowsPlan = false

        public init(elementCount: Int, round: AllReduceRound.Settings, frameDelay: TimeAmount? = nil, seed: UInt64,
                    sameHostCopies: Bool = true) {
            self.elementCount = elementCount
            self.round = round
            self.frameDelay = frameDelay
            self.seed = seed
            self.sameHostCopies = sameHostCopies
        }
    }

    /// A member of every round: who it is, where it listens, its weight, and whether it takes
    /// part in client mode (it owns no part and is never dialled, though it still listens).
    public struct Member: Hashable, Sendable {
        public var peer: PeerID
        public var port: UInt16
        public var samples: UInt64
        public var clientMode: Bool
        /// The address it listens on (another host's when the bench spans network namespaces).
        public var host: String
        /// The bandwidth its declaration states, in bytes per second: parts follow it
        /// (`LoadBalancing`), as they follow the measured bandwidths in a run.
        public var bandwidth: UInt64

        public static let defaultBandwidth: UInt64 = 1_000_000_000

        public init(peer: PeerID, port: UInt16, samples: UInt64, clientMode: Bool = false, host: String = "127.0.0.1",
                    bandwidth: UInt64 = Member.defaultBandwidth) {
            self.peer = peer
            self.port = port
            self.samples = samples
            self.clientMode = clientMode
            self.host = host
            self.bandwidth = bandwidth
        }

        var endpoint: Endpoint { Endpoint(host: host, port: port) }
    }

    public let settings: Settings
    private let dht: DHTService
    private let handlers: NIOLoopBound<PeerHandlers>
    private let vector: BenchVector

    /// This peer's id and the port it listens on (on `Settings.listenHost`).
    public var peerID: PeerID { dht.peerID }
    public var port: UInt16 { dht.endpoint.port }

    private init(settings: Settings, dht: DHTService, handlers: NIOLoopBound<PeerHandlers>, vector: BenchVector) {
        self.settings = settings
        self.dht = dht
        self.handlers = handlers
        self.vector = vector
    }

    /// Starts listening on `settings.listenHost` with a fresh identity.
    public static func start(settings: Settings, eventLoop: EventLoop, logger: Logger) async throws -> AllReduceBenchPeer {
        var random = SystemRandomNumberGenerator()
        let identity = PeerIdentity(using: &random)
        let handlers = try await eventLoop.submit {
            NIOLoopBound(PeerHandlers(eventLoop: eventLoop, logger: logger, ownID: identity.peerID, sameHostCopies: settings.sameHostCopies),
                         eventLoop: eventLoop)
        }.get()
        var dhtSettings = DHTService.Settings()
        dhtSettings.transport.listen = Endpoint(host: settings.listenHost, port: 0)
        dhtSettings.transport.faults.allPeers = settings.frameDelay.map { FaultInjection.Link(delay: $0) }
        let dht = try await DHTService.start(identity: identity, settings: dhtSettings, eventLoop: eventLoop,
                                             logger: logger, serveOther: { handlers.value.router.serve($0) })
        try await eventLoop.submit { handlers.value.attach(dht.transport) }.get()
        let vector = BenchVector(count: settings.elementCount, seed: settings.seed)
        return AllReduceBenchPeer(settings: settings, dht: dht, handlers: handlers, vector: vector)
    }

    /// Opens the connections of the rounds before the first one: this peer pings every member
    /// with a larger id that accepts connections (a client-mode peer pings every such member).
    /// Once every member has done so, each pair that talks shares one connection opened in one
    /// direction, so rounds neither wait for handshakes nor retire duplicate connections.
    /// Then, with same-host copies on, it proves itself and every member that accepts
    /// connections to each other, so that every timed round copies chunks between the
    /// processes from its first one.
    public func connect(to members: [Member]) async throws {
        let transport = dht.transport
        let ping = DHTMessage.ping(sender: nil).encodedPayload()
        let me = peerID
        let isClient = members.first { $0.peer == me }?.clientMode ?? false
        let dialable = members.filter { $0.peer != me && !$0.clientMode }
        let pings = dialable.filter { isClient || me < $0.peer }.map { member in
            transport.request(.ping, payload: ping, to: member.endpoint, expecting: member.peer, timeout: .seconds(30))
        }
        _ = try await EventLoopFuture.whenAllSucceed(pings, on: transport.eventLoop).get()
        let handlers = self.handlers
        let others = dialable.map { ($0.peer, $0.endpoint) }
        try await handlers.eventLoop.flatSubmit { handlers.value.sameHost.prove(others) }.get()
    }

    /// Runs round `index` with `members` (this peer among them) and returns its outcome, with
    /// the checksum of the averages when `withChecksum` (hashing the vector takes time the next
    /// round would otherwise wait for, so the bench asks for it after the last round only).
    public func runRound(_ index: Int, members: [Member], withChecksum: Bool) async throws -> AllReduceBenchRound {
        let declarations = members.map { member in
            Declaration(step: UInt64(index), peer: member.peer,
                        address: member.clientMode ? "" : "\(member.endpoint)", bandwidth: member.bandwidth,
                        clientMode: member.clientMode, samples: member.samples)
        }
        guard let plan = GroupPlan(step: UInt64(index), elementCount: settings.elementCount, members: declarations) else {
            throw PeerError("the \(members.count) members do not form a group (at least 2, distinct ids, one not in client mode)")
        }
        var endpoints: [PeerID: Endpoint] = [:]
        for member in members where !member.clientMode {
            endpoints[member.peer] = member.endpoint
        }
        let me = peerID
        var roundSettings = settings.round
        if settings.chunkSizeFollowsPlan {
            roundSettings.chunkSize = AllReduceRound.Settings.chunkSize(for: plan)
        }
        let handlers = self.handlers, vector = self.vector, memberEndpoints = endpoints
        let started = ContinuousClock.now
        let chosenSettings = roundSettings
        let result = try await handlers.eventLoop.flatSubmit {
            handlers.value.allReduce.startRound(plan: plan, me: me, vector: vector.values, settings: chosenSettings, endpoints: memberEndpoints)
        }.get()
        let elapsed = ContinuousClock.now - started
        let copied = try await handlers.eventLoop.submit { handlers.value.sameHost.bytesCopied(roundID: plan.id) }.get()
        return AllReduceBenchRound(index: index, result: result, seconds: elapsed.benchSeconds, chunkSize: chosenSettings.chunkSize,
                                   checksum: withChecksum ? vector.checksum(skipping: result.failedParts) : nil,
                                   sameHostBytes: copied)
    }

    /// Closes every connection and frees the vector.
    public func shutdown() async {
        await dht.shutdown()
        vector.deallocate()
    }
}

/// What one bench round did, as a worker reports it.
public struct AllReduceBenchRound: Codable, Hashable, Sendable {
    public var index: Int
    public var seconds: Double
    /// Members this peer counted at the end, and the ones it left out.
    public var participants: Int
    public var leftOut: Int
    /// Element ranges that were not averaged, as [start, end).
    public var failedParts: [[Int]]
    /// Hex FNV-1a of the averaged elements' bit patterns (failed parts skipped): equal on every
    /// member exactly when their averages are bit-identical. Nil when not asked for.
    public var checksum: String?
    public var bytesSent: Int
    public var bytesReceived: Int
    /// Chunk bytes this member copied out of other members' memory instead of receiving them.
    public var sameHostBytes: Int
    /// Elements per chunk in this round.
    public var chunkSize: Int

    init(index: Int, result: AllReduceResult, seconds: Double, chunkSize: Int, checksum: UInt64?, sameHostBytes: Int) {
        self.index = index
        self.seconds = seconds
        self.chunkSize = chunkSize
        participants = result.participants.count
        leftOut = result.leftOut.count
        failedParts = result.failedParts.map { [$0.lowerBound, $0.upperBound] }
        self.checksum = checksum.map { String($0, radix: 16) }
        bytesSent = result.bytesSent
        bytesReceived = result.bytesReceived
        self.sameHostBytes = sameHostBytes
    }
}

/// The bench's flat vector, handed to the event loop for one round at a time (the caller awaits
/// the round and does not touch it meanwhile).
private final class BenchVector: @unchecked Sendable {
    let values: UnsafeMutableBufferPointer<Float>

    init(count: Int, seed: UInt64) {
        values = .allocate(capacity: count)
        var random = SplitMix64(seed: seed)
        for index in values.indices {
            values[index] = Float(random.next() >> 40) / Float(1 << 24) * 2 - 1
        }
    }

    /// FNV-1a over the 32-bit patterns of every element outside `skipping`.
    func checksum(skipping failed: [Range<Int>]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var start = 0
        for range in failed.sorted(by: { $0.lowerBound < $1.lowerBound }) + [values.count..<values.count] {
            for index in start..<max(start, range.lowerBound) {
                hash = (hash ^ UInt64(values[index].bitPattern)) &* 0x0000_0100_0000_01B3
            }
            start = max(start, range.upperBound)
        }
        return hash
    }

    func deallocate() {
        values.deallocate()
    }
}

extension Duration {
    var benchSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
