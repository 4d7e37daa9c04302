import CohortBase
import StateSync
import Admission
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import Wire

/// A started DHT service with the peer's handlers of the other requests, joined to the run's network.
struct RunNetwork {
    let dht: DHTService
    let handlers: NIOLoopBound<PeerHandlers>
    let eventLoop: EventLoop
    /// The updates this peer applied, kept for peers that replay them.
    let updates: UpdateServer

    /// Starts the peer's node as `volunteer` says, admitting peers under `admission`.
    static func start(identity: PeerIdentity, volunteer: VolunteerSettings, admission: AdmissionPolicy,
                      eventLoop: EventLoop, logger: Logger) async throws -> RunNetwork {
        // A client-mode peer serves nothing, so it keeps no updates either.
        let updates = UpdateServer(keep: volunteer.clientMode ? 0 : volunteer.replayUpdates)
        let handlers = try await eventLoop.submit {
            NIOLoopBound(PeerHandlers(eventLoop: eventLoop, logger: logger, ownID: identity.peerID, sameHostCopies: volunteer.sameHostCopies,
                                      updates: updates),
                         eventLoop: eventLoop)
        }.get()
        var settings = DHTService.Settings()
        settings.transport.listen = volunteer.listen
        settings.transport.advertisedHost = volunteer.announceHost
        settings.transport.advertisedPort = volunteer.announcePort
        settings.transport.admission = admission
        settings.transport.faults = volunteer.faults
        settings.isClient = volunteer.clientMode
        let dht = try await DHTService.start(identity: identity, settings: settings, eventLoop: eventLoop, logger: logger,
                                             serveOther: { handlers.value.router.serve($0) })
        try await eventLoop.submit { handlers.value.attach(dht.transport) }.get()
        return RunNetwork(dht: dht, handlers: handlers, eventLoop: eventLoop, updates: updates)
    }

    /// Joins through `endpoints`, retrying with exponential backoff for about a minute, or
    /// until a node refuses this peer's admission.
    func bootstrap(_ endpoints: [Endpoint], logger: Logger, stop: StopSignal) async throws {
        var delay = 0.25
        let deadline = Date().addingTimeInterval(60)
        var nextNotice = Date()
        while true {
            if let contacts = try? await dht.bootstrap(endpoints), contacts > 0 {
                logger.info("joined the DHT", metadata: ["contacts": "\(contacts)"])
                return
            }
            let addresses = endpoints.map(\.description).joined(separator: ", ")
            // A refusal names what is wrong with this peer's admission; asking again changes nothing.
            if let refusal = try? await dht.lastRefusal() {
                throw PeerError("could not join the DHT through \(addresses): refused: \(refusal)")
            }
            guard !stop.isStopped else { throw PeerError("stopped before joining the run") }
            guard Date() < deadline else {
                throw PeerError("could not join the DHT through \(addresses): no node answered")
            }
            // The coordinator may still be starting; say so rather than wait a minute in silence.
            if Date() >= nextNotice {
                logger.warning("no node answers at \(addresses) yet; trying again for up to \(Int(deadline.timeIntervalSinceNow.rounded())) s")
                nextNotice = Date().addingTimeInterval(15)
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 4)
        }
    }

    static func milliseconds() -> UInt64 { SystemClock().now().wall.millisecondsSinceEpoch }

    /// Stores this peer's record under `key`, valid for `lifetime`; failures are logged, not
    /// thrown, because the next publication replaces the record anyway.
    func publish(_ key: RecordKey, _ value: [UInt8], lifetime: Duration, logger: Logger) async {
        do {
            _ = try await dht.put(key: key, subkey: dht.peerID.bytes, value: value, expiresAt: SystemClock().now().wall + lifetime)
        } catch {
            logger.warning("could not publish a record", metadata: ["error": "\(error)"])
        }
    }

    func records(_ key: RecordKey) async -> [SignedRecord] {
        (try? await dht.get(key)) ?? []
    }

    /// The records under two keys, looked up side by side.
    func records(_ first: RecordKey, _ second: RecordKey) async -> ([SignedRecord], [SignedRecord]) {
        async let firstRecords = records(first)
        async let secondRecords = records(second)
        return await (firstRecords, secondRecords)
    }

    func shutdown() async {
        await dht.shutdown()
    }
}
