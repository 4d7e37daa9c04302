@testable import StateSync
import Averaging
import Collaboration
import DHT
import Logging
import NIOCore
import NIOPosix
import Node
@testable import Peer
import Synchronization
import Testing
import Wire

/// Replays fetched over real sockets on 127.0.0.1 from donors serving their update logs,
/// honestly or not.
@Suite(.timeLimit(.minutes(2))) struct UpdateFetcherTests {
    /// More than one chunk's worth of elements, so each gradient comes in two requests.
    static let elementCount = UpdateFetcher.chunkElements + 1_000

    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    /// A server holding the updates from step 10 (hash 10) to step 13 (hash 13).
    static func server() -> UpdateServer {
        let server = UpdateServer(keep: 4)
        for step in 10..<13 {
            let header = UpdateHeader(fromStep: step, hashBefore: hash(UInt8(step)), hashAfter: hash(UInt8(step + 1)),
                                      elementCount: elementCount, skipped: step == 11 ? [0..<5] : [])
            server.record(AppliedUpdate(header: header, gradients: (0..<elementCount).map { Float($0 % 977) * 0.25 + Float(step) }))
        }
        return server
    }

    static let ask = UpdatesRequest(fromStep: 10, fromHash: hash(10), toStep: 13, toHash: hash(13))

    /// Starts donors answering with `answers` and a fetcher that bans at the first offence,
    /// runs `body`, and shuts everything down.
    static func withDonors(_ answers: [@Sendable (Frame) throws -> Frame],
                           _ body: (UpdateFetcher, [UpdateFetcher.Donor], Transport) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var services: [DHTService] = []
        do {
            var random = SystemRandomNumberGenerator()
            for answer in answers {
                services.append(try await StateFetcherTests.donor(PeerIdentity(using: &random), group: group, logger: logger, answer: answer))
            }
            var settings = DHTService.Settings()
            settings.transport.bans.offencesToBan = 1
            let joiner = try await DHTService.start(identity: PeerIdentity(using: &random), settings: settings, eventLoop: group.next(),
                                                    logger: logger)
            let donors = services.map { ($0.peerID, $0.endpoint) }
            services.append(joiner)
            try await body(UpdateFetcher(transport: joiner.transport, logger: logger), donors, joiner.transport)
        } catch {
            Issue.record(error)
        }
        for service in services { await service.shutdown() }
        try? await group.shutdownGracefully()
    }

    @Test func theChainAndEveryGradientArriveAsTheDonorKeptThem() async throws {
        let server = Self.server()
        try await Self.withDonors([{ try server.answer($0) }]) { fetcher, donors, _ in
            let (donor, chain) = try await fetcher.chain(Self.ask, elementCount: Self.elementCount, donors: donors)
            #expect(chain.headers.map(\.fromStep) == [10, 11, 12])
            #expect(chain.headers[1].skipped == [0..<5])
            let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: Self.elementCount)
            defer { received.deallocate() }
            for header in chain.headers {
                received.update(repeating: -1)
                try await fetcher.gradients(of: header, from: [donor], into: received)
                let kept = try #require(server.log(fromStep: header.fromStep, hashBefore: header.hashBefore))
                #expect(Array(received) == Self.asFetched(kept, skipping: header.skipped))
            }
        }
    }

    @Test func aDonorOfAnotherChainIsReportedAndTheNextDonorServesTheReplay() async throws {
        let server = Self.server()
        let forged: @Sendable (Frame) throws -> Frame = { request in
            var reply = try server.answer(request)
            // The last header's end state: not the one asked for.
            if reply.type == .updates { reply.payload[reply.payload.count - 20] ^= 1 }
            return reply
        }
        try await Self.withDonors([forged, { try server.answer($0) }]) { fetcher, donors, transport in
            let (donor, _) = try await fetcher.chain(Self.ask, elementCount: Self.elementCount, donors: donors)
            #expect(donor.peer == donors[1].peer)
            #expect(try await transport.bannedPeers().get() == [donors[0].peer])
        }
    }

    @Test func aDonorWithoutTheChainIsNotAnOffenceAndTheReplayFailsWithItsReason() async throws {
        let empty = UpdateServer(keep: 4)
        try await Self.withDonors([{ try empty.answer($0) }]) { fetcher, donors, transport in
            await #expect(throws: PeerError.self) {
                try await fetcher.chain(Self.ask, elementCount: Self.elementCount, donors: donors)
            }
            let banned = try await transport.bannedPeers().get()
            #expect(banned.isEmpty)
        }
    }

    @Test func aChunkOfAnotherSizeThanAskedIsReported() async throws {
        let server = Self.server()
        let short: @Sendable (Frame) throws -> Frame = { request in
            let reply = try server.answer(request)
            guard reply.type == .updateChunk, let chunk = try? UpdateChunk(decoding: reply.payload) else { return reply }
            let values = chunk.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self).dropLast()) }
            return Frame(type: .updateChunk, requestID: 0,
                         payload: UpdateChunk.encode(fromStep: chunk.fromStep, firstElement: chunk.firstElement, values: values[...]))
        }
        try await Self.withDonors([short]) { fetcher, donors, transport in
            let (donor, chain) = try await fetcher.chain(Self.ask, elementCount: Self.elementCount, donors: donors)
            let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: Self.elementCount)
            defer { received.deallocate() }
            await #expect(throws: PeerError.self) {
                try await fetcher.gradients(of: chain.headers[0], from: [donor], into: received)
            }
            #expect(try await transport.bannedPeers().get() == [donor.peer])
        }
    }
}

/// Counts the chunk requests a donor answered.
final class ChunkCounter: Sendable {
    private let count = Mutex(0)
    var answered: Int { count.withLock { $0 } }

    func counting(_ server: UpdateServer) -> @Sendable (Frame) throws -> Frame {
        { request in
            if request.type == .updateChunkRequest { self.count.withLock { $0 += 1 } }
            return try server.answer(request)
        }
    }
}

extension UpdateFetcherTests {
    @Test func aGradientIsSharedAmongTheDonorsThatKeptIt() async throws {
        let server = Self.server()
        let counters = [ChunkCounter(), ChunkCounter()]
        try await Self.withDonors(counters.map { $0.counting(server) }) { fetcher, donors, _ in
            try await Self.expectEveryGradientAsKeptBy(server, fetchedBy: fetcher, from: donors)
        }
        // Two chunks per gradient, one from each donor.
        #expect(counters.map(\.answered) == [3, 3])
    }

    @Test func aDonorWithoutTheUpdateIsPassedOverAndTheOthersSendItsChunks() async throws {
        let server = Self.server()
        let empty = UpdateServer(keep: 4)
        try await Self.withDonors([{ try server.answer($0) }, { try empty.answer($0) }]) { fetcher, donors, transport in
            try await Self.expectEveryGradientAsKeptBy(server, fetchedBy: fetcher, from: donors)
            #expect(try await transport.bannedPeers().get().isEmpty)
        }
    }

    /// Fetches the chain from `donors`, then each gradient from all of them, and expects what
    /// `server` kept.
    static func expectEveryGradientAsKeptBy(_ server: UpdateServer, fetchedBy fetcher: UpdateFetcher,
                                            from donors: [UpdateFetcher.Donor]) async throws {
        let (_, chain) = try await fetcher.chain(ask, elementCount: elementCount, donors: donors)
        let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: elementCount)
        defer { received.deallocate() }
        for header in chain.headers {
            received.update(repeating: -1)
            try await fetcher.gradients(of: header, from: donors, into: received)
            let kept = try #require(server.log(fromStep: header.fromStep, hashBefore: header.hashBefore))
            #expect(Array(received) == asFetched(kept, skipping: header.skipped))
        }
    }

    /// `kept` as a fetch into a buffer of -1 leaves it: the skipped elements are not asked for
    /// (a streaming round's update is one fragment of the vector).
    static func asFetched(_ kept: [Float], skipping skipped: [Range<Int>]) -> [Float] {
        var values = kept
        for range in skipped { values.replaceSubrange(range, with: repeatElement(-1, count: range.count)) }
        return values
    }

    @Test func aGradientNoDonorSendsFailsTheReplay() async throws {
        let empty = UpdateServer(keep: 4)
        try await Self.withDonors([{ try empty.answer($0) }, { try empty.answer($0) }]) { fetcher, donors, _ in
            let header = UpdateHeader(fromStep: 10, hashBefore: Self.hash(10), hashAfter: Self.hash(11),
                                      elementCount: Self.elementCount, skipped: [])
            let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: Self.elementCount)
            defer { received.deallocate() }
            await #expect(throws: PeerError.self) {
                try await fetcher.gradients(of: header, from: donors, into: received)
            }
        }
    }
}

extension UpdateServer {
    /// The gradient kept for the update from `hashBefore` of `fromStep`, as served.
    func log(fromStep: Int, hashBefore: [UInt8]) -> [Float]? {
        let ask = UpdateChunkRequest(fromStep: fromStep, hashBefore: hashBefore, firstElement: 0, elementCount: UpdateFetcherTests.elementCount)
        guard let reply = try? answer(Frame(type: .updateChunkRequest, requestID: 0, payload: ask.encoded)),
              let chunk = try? UpdateChunk(decoding: reply.payload) else { return nil }
        var values = [Float](repeating: 0, count: UpdateFetcherTests.elementCount)
        values.withUnsafeMutableBufferPointer { chunk.copyValues(into: $0) }
        return values
    }
}

extension UpdateFetcherTests {
    /// A donor keeping another update from step 10 (hash 10): to hash 99.
    static func fork() -> UpdateServer {
        let fork = UpdateServer(keep: 4)
        let header = UpdateHeader(fromStep: 10, hashBefore: hash(10), hashAfter: hash(99), elementCount: elementCount, skipped: [])
        fork.record(AppliedUpdate(header: header, gradients: [Float](repeating: 7, count: elementCount)))
        return fork
    }

    /// A peer that took another update from the same state (in a group whose state lost the
    /// election) and then downloaded the elected state still keeps its own gradient for that
    /// state: its chunks must not be mixed into the replay.
    @Test func aGradientIsSharedOnlyWithDonorsKeepingTheSameChain() async throws {
        let server = Self.server()
        let fork = Self.fork()
        try await Self.withDonors([{ try server.answer($0) }, { try fork.answer($0) }, { try server.answer($0) }]) { fetcher, donors, transport in
            let (first, chain) = try await fetcher.chain(Self.ask, elementCount: Self.elementCount, donors: donors)
            #expect(first.peer == donors[0].peer)
            let keeping = await fetcher.donorsKeeping(chain, Self.ask, elementCount: Self.elementCount, among: Array(donors.dropFirst()))
            #expect(keeping.map(\.peer) == [donors[2].peer])
            #expect(try await transport.bannedPeers().get().isEmpty, "keeping another update is no offence")
        }
    }

    @Test func theChainComesWithItsSenderFirstThenTheDonorsKeepingTheSameChain() async throws {
        let server = Self.server()
        let fork = Self.fork()
        try await Self.withDonors([{ try fork.answer($0) }, { try server.answer($0) }, { try server.answer($0) }]) { fetcher, donors, _ in
            let (chain, sharing) = try await fetcher.chainAndItsDonors(Self.ask, elementCount: Self.elementCount, donors: donors)
            #expect(sharing.map(\.peer) == [donors[1].peer, donors[2].peer], "the fork keeps no chain to the state asked for")
            #expect(chain.headers.last?.hashAfter == Self.ask.toHash)
        }
    }
}
