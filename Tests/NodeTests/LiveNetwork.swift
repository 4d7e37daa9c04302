import DHT
import Logging
import NIOCore
import NIOPosix
@testable import Node
import Wire

/// Real DHT nodes on 127.0.0.1 with OS-chosen ports, sharing one event-loop group.
struct LiveNetwork {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    var services: [DHTService] = []
    var logger = Logger(label: "test")

    init() {
        logger.logLevel = .critical
    }

    static func settings() -> DHTService.Settings {
        var settings = DHTService.Settings()
        settings.dht.requestTimeout = .seconds(3)
        settings.transport.handshakeTimeout = .seconds(5)
        return settings
    }

    /// Starts a node with a seeded identity and bootstraps it from `join`.
    mutating func addNode(seed: UInt64, join: [Endpoint], settings: DHTService.Settings = settings()) async throws -> DHTService {
        let service = try await DHTService.start(identity: identity(seed), settings: settings, eventLoop: group.next(), logger: logger)
        services.append(service)
        _ = try await service.bootstrap(join)
        return service
    }

    /// Shuts every node down, then the event loops.
    func shutdown() async {
        for service in services { await service.shutdown() }
        try? await group.shutdownGracefully()
    }
}
