import CohortBase
import StateSync
import Averaging
import Collaboration
import DHT
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Node
@testable import Peer
import Testing
import Wire

/// Downloads over real sockets on 127.0.0.1 from two donors, one of which lies or lags.
@Suite(.timeLimit(.minutes(2))) struct StateFetcherTests {
    enum Lie: CaseIterable {
        case chunks, manifest
    }

    enum Lag: CaseIterable {
        /// Sends the manifest at once but each chunk only after ten minutes.
        case slowChunks
        /// Never answers, not even for the manifest, which it is asked for first.
        case silent
    }

    /// Three chunks and a short fourth, so both donors are asked for chunks.
    static let state: [UInt8] = (0..<((3 << 20) + 1000)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }

    @Test(arguments: Lie.allCases)
    func aLyingDonorIsDroppedAndReportedAndTheHonestOneFinishesTheDownload(_ lie: Lie) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var services: [DHTService] = []
        do {
            let snapshot = StateSnapshot(step: 5, bytes: Self.state)
            let server = StateServer(keep: 1)
            server.publish(snapshot)
            // The downloader asks the donor with the smaller id for the manifest: the liar, so
            // that a forged manifest is seen.
            var random = SystemRandomNumberGenerator()
            let identities = [PeerIdentity(using: &random), PeerIdentity(using: &random)]
                .sorted { $0.peerID < $1.peerID }
            let liar = try await Self.donor(identities[0], group: group, logger: logger) { try Self.forge(server.answer($0), lie: lie) }
            services.append(liar)
            let honest = try await Self.donor(identities[1], group: group, logger: logger) { try server.answer($0) }
            services.append(honest)
            var settings = DHTService.Settings()
            settings.transport.bans.offencesToBan = 1
            let downloader = try await DHTService.start(identity: PeerIdentity(using: &random), settings: settings,
                                                        eventLoop: group.next(), logger: logger)
            services.append(downloader)
            let bytes = try await StateFetcher(transport: downloader.transport, logger: logger)
                .download(step: 5, hash: snapshot.hash, byteCount: Self.state.count,
                          donors: [(liar.peerID, liar.endpoint), (honest.peerID, honest.endpoint)])
            #expect(bytes == Self.state)
            #expect(try await downloader.transport.bannedPeers().get() == [liar.peerID])
        } catch {
            Issue.record(error)
        }
        for service in services { await service.shutdown() }
        try? await group.shutdownGracefully()
    }

    /// The suite's time limit is below the lagging donor's ten minutes and, for the slow-chunk
    /// donor, below the transport's timeout (twice the 90 s stall deadline): the download passes
    /// only if it finishes from the prompt donor without waiting for the other's replies. A
    /// slow-chunk donor is overtaken by the end game; a silent one is dropped at its 10 s
    /// deadline, long enough for the prompt donor to answer within it on a busy machine.
    @Test(arguments: Lag.allCases)
    func aLaggingDonorHoldsUpNoOther(_ lag: Lag) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var services: [DHTService] = []
        do {
            let snapshot = StateSnapshot(step: 5, bytes: Self.state)
            let server = StateServer(keep: 1)
            server.publish(snapshot)
            var random = SystemRandomNumberGenerator()
            let identities = [PeerIdentity(using: &random), PeerIdentity(using: &random)]
                .sorted { $0.peerID < $1.peerID }
            // The manifest is asked of the donor with the smaller id.
            let (laggingIdentity, promptIdentity) = lag == .silent ? (identities[0], identities[1]) : (identities[1], identities[0])
            let served = NIOLockedValueBox<[PeerID: Int]>([:])
            let lagging = try await Self.donor(laggingIdentity, group: group, logger: logger) { request, eventLoop in
                if lag == .slowChunks && request.type == .stateManifestRequest {
                    return eventLoop.makeCompletedFuture { try server.answer(request) }
                }
                return eventLoop.scheduleTask(in: .minutes(10)) {
                    served.withLockedValue { $0[laggingIdentity.peerID, default: 0] += 1 }
                    return try server.answer(request)
                }.futureResult
            }
            services.append(lagging)
            let prompt = try await Self.donor(promptIdentity, group: group, logger: logger) { request, eventLoop in
                eventLoop.makeCompletedFuture {
                    if request.type == .stateRequest { served.withLockedValue { $0[promptIdentity.peerID, default: 0] += 1 } }
                    return try server.answer(request)
                }
            }
            services.append(prompt)
            let downloader = try await DHTService.start(identity: PeerIdentity(using: &random), eventLoop: group.next(), logger: logger)
            services.append(downloader)
            var settings = StateDownload.Settings()
            settings.requestTimeout = lag == .silent ? .seconds(10) : .seconds(90)
            let bytes = try await StateFetcher(transport: downloader.transport, logger: logger, settings: settings)
                .download(step: 5, hash: snapshot.hash, byteCount: Self.state.count,
                          donors: [(lagging.peerID, lagging.endpoint), (prompt.peerID, prompt.endpoint)])
            #expect(bytes == Self.state)
            #expect(served.withLockedValue { $0 } == [prompt.peerID: 4], "the prompt donor served all four chunks, the other none")
        } catch {
            Issue.record(error)
        }
        for service in services { await service.shutdown() }
        try? await group.shutdownGracefully()
    }

    static func donor(_ identity: PeerIdentity, group: EventLoopGroup, logger: Logger,
                      answer: @escaping @Sendable (Frame, EventLoop) -> EventLoopFuture<Frame>) async throws -> DHTService {
        let eventLoop = group.next()
        return try await DHTService.start(identity: identity, eventLoop: eventLoop, logger: logger) { request in
            answer(request.frame, eventLoop)
        }
    }

    static func donor(_ identity: PeerIdentity, group: EventLoopGroup, logger: Logger,
                      answer: @escaping @Sendable (Frame) throws -> Frame) async throws -> DHTService {
        let eventLoop = group.next()
        return try await DHTService.start(identity: identity, eventLoop: eventLoop, logger: logger) { request in
            eventLoop.makeCompletedFuture { try answer(request.frame) }
        }
    }

    /// Flips a bit in the last byte of what `lie` names, leaving the rest of the reply intact.
    static func forge(_ reply: Frame, lie: Lie) -> Frame {
        let forged: MessageType = lie == .chunks ? .stateChunk : .stateManifest
        guard reply.type == forged else { return reply }
        var reply = reply
        reply.payload[reply.payload.count - 1] ^= 1
        return reply
    }
}
