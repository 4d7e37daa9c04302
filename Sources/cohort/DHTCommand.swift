import Admission
import ArgumentParser
import DHT
import Foundation
import Logging
import NIOPosix
import Node
import Wire

/// `cohort dht`: run a bare DHT node, or store and read records through one.
struct DHTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Run a DHT node, or store and read records in a running DHT.",
        subcommands: [DHTNodeCommand.self, DHTPutCommand.self, DHTGetCommand.self]
    )
}

/// Options shared by the commands that start a node.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("join"), help: "HOST:PORT of a running node; repeat for several.")
    var join: [String] = []

    @Option(help: "Ed25519 key file, created (mode 0600) when missing. Default: a new key for this run.")
    var identity: String?

    @Option(help: "Access token file, to serve a run that admits only peers with one (default: admit anyone).")
    var token: String?

    func validate() throws {
        _ = try join.endpoints()
        _ = try TokenFileArgument.load(token)
    }

    /// Open without a token; with one, admitted-only under the run it is for, as `identity`.
    func admission(for identity: PeerIdentity) throws -> AdmissionPolicy {
        guard let accessToken = try TokenFileArgument.load(token) else { return .open }
        do {
            return try .presenting(accessToken, as: identity)
        } catch {
            throw ValidationError("cannot use --token \(token ?? ""): \(error)")
        }
    }


    func loadIdentity() throws -> PeerIdentity {
        guard let identity else { return PeerIdentity(privateKey: .init()) }
        do {
            return try IdentityFile.loadOrCreate(at: identity)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// `cohort dht node`: a long-running node, e.g. a bootstrap node for operators.
struct DHTNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a DHT node until SIGINT or SIGTERM."
    )

    @Option(help: "HOST:PORT to listen on (port 0: any free port).")
    var listen: String

    @OptionGroup var options: NodeOptions

    func validate() throws {
        _ = try HostPort.parse(listen)
    }

    func run() async throws {
        let logger = makeLogger("cohort.dht")
        let identity = try options.loadIdentity()
        var settings = DHTService.Settings()
        settings.transport.listen = try HostPort.parse(listen)
        settings.transport.admission = try options.admission(for: identity)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let service = try await DHTService.start(identity: identity, settings: settings,
                                                 eventLoop: group.next(), logger: logger)
        logger.info("DHT node running", metadata: ["peer.id": "\(service.peerID)", "address": "\(service.endpoint)"])
        let joins = try options.join.endpoints()
        if !joins.isEmpty {
            let contacts = try await service.bootstrap(joins)
            logger.info("bootstrapped", metadata: ["contacts": "\(contacts)"])
        }
        let signal = await TerminationSignal.wait()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        await service.shutdown()
        try await group.shutdownGracefully()
    }
}

/// Runs a short-lived client node for one `put` or `get`.
enum DHTClient {
    static func with<T>(_ options: NodeOptions, _ body: (DHTService) async throws -> T) async throws -> T {
        var logger = Logger(label: "cohort.dht")
        logger.logLevel = .error
        let identity = try options.loadIdentity()
        var settings = DHTService.Settings()
        settings.isClient = true
        settings.transport.admission = try options.admission(for: identity)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let service = try await DHTService.start(identity: identity, settings: settings,
                                                 eventLoop: group.next(), logger: logger)
        do {
            let contacts = try await service.bootstrap(try options.join.endpoints())
            guard contacts > 0 else { throw ValidationError("no node answered at \(options.join.joined(separator: ", "))") }
            let result = try await body(service)
            await service.shutdown()
            try await group.shutdownGracefully()
            return result
        } catch {
            await service.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
    }
}
