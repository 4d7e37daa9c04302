import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The coordinator's HTTP/1.1 server: the dashboard page at `/`, the status as JSON at
/// `/api/status`, pages of the round history at `/api/rounds` and Prometheus metrics at
/// `/metrics`.
///
/// Every request asks the status provider for a fresh snapshot (or the rounds provider for a
/// page), so the server holds no run state of its own. Use it in two steps, so the bound port
/// is known before serving starts:
///
/// ```swift
/// let server = try await DashboardServer.bind(settings: .init(port: 0), logger: logger,
///                                             rounds: { try journal.page(since: $0.since, limit: $0.limit) }) {
///     await tracker.status()
/// }
/// print("dashboard at http://127.0.0.1:\(server.port)/")
/// try await server.run()      // returns after shutdown(); cancelling the task stops at once
/// ```
///
/// Slow and greedy clients are bounded by `Settings`: a connection beyond
/// `maximumConnections` is closed as soon as it is accepted, one that takes longer than
/// `requestTimeout` to send a request is closed, and NIOHTTP1 refuses a request head over 80 KiB.
///
/// `shutdown()` is graceful: it stops accepting, lets in-flight requests finish for up to
/// `Settings.shutdownGracePeriod`, then `run()` returns. Cancelling the task that runs `run()`
/// closes everything without waiting.
public final class DashboardServer: Sendable {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// The address the listening socket is bound to.
    public let localAddress: SocketAddress
    private let listener: NIOAsyncChannel<Connection, Never>
    private let connections: ConnectionTracker
    private let responder: DashboardResponder
    private let settings: Settings
    private let logger: Logger

    /// The TCP port the server listens on: the OS's choice when `Settings.port` was 0.
    public var port: Int {
        guard let port = localAddress.port else {
            preconditionFailure("a TCP listener is bound to an address without a port: \(localAddress)")
        }
        return port
    }

    /// Binds the listening socket; serving starts with `run()`.
    ///
    /// - Parameters:
    ///   - rounds: Called once per `/api/rounds` request, with its validated query; an error
    ///     is logged and answered with 503.
    ///   - status: Called once per page, status or metrics request for the current status.
    public static func bind(
        settings: Settings,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        rounds: @escaping @Sendable (RoundsQuery) async throws -> RoundPage,
        status: @escaping @Sendable () async -> CoordinatorStatus
    ) async throws -> DashboardServer {
        let connections = ConnectionTracker(gracePeriod: settings.shutdownGracePeriod)
        let listener = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(maximum: settings.maximumConnections))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: settings.requestTimeout))
                    connections.track(channel)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        guard let localAddress = listener.channel.localAddress else {
            preconditionFailure("a bound listener has no local address (asked for \(settings.host):\(settings.port))")
        }
        let responder = DashboardResponder(statusProvider: status, roundsProvider: rounds, metrics: DashboardMetrics(), logger: logger)
        logger.info("dashboard listening", metadata: ["dashboard.address": "\(localAddress)"])
        return DashboardServer(localAddress: localAddress, listener: listener, connections: connections,
                               responder: responder, settings: settings, logger: logger)
    }

    private init(localAddress: SocketAddress, listener: NIOAsyncChannel<Connection, Never>,
                 connections: ConnectionTracker, responder: DashboardResponder, settings: Settings, logger: Logger) {
        self.localAddress = localAddress
        self.listener = listener
        self.connections = connections
        self.responder = responder
        self.settings = settings
        self.logger = logger
    }

    /// Serves connections until `shutdown()` has finished them, or the task is cancelled.
    /// Call it once per server: the listener's stream of connections can be read only once.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { accepted in
                for try await connection in accepted {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
        logger.info("dashboard stopped", metadata: ["dashboard.address": "\(localAddress)"])
    }

    /// Stops accepting connections and lets open ones finish their current response; `run()`
    /// returns once they have closed, after `Settings.shutdownGracePeriod` at the latest.
    public func shutdown() {
        listener.channel.close(promise: nil)
        connections.quiesceAll()
    }

    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var reader = HTTPRequestReader(maximumBytes: settings.maximumRequestBytes)
                for try await part in inbound {
                    switch reader.onPart(part) {
                    case .readMore:
                        continue
                    case .respond(let head):
                        let response = await responder.response(for: DashboardRoute(method: head.method, uri: head.uri))
                        try await write(response, version: head.version, keepAlive: head.isKeepAlive, to: outbound)
                        guard head.isKeepAlive else { return }
                    case .rejectTooLarge:
                        try await write(.payloadTooLarge, version: .http1_1, keepAlive: false, to: outbound)
                        return
                    }
                }
            }
        } catch {
            logger.debug("dashboard connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    private func write(_ response: DashboardResponse, version: HTTPVersion, keepAlive: Bool,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let body = ByteBuffer(string: response.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in response.extraHeaders {
            headers.add(name: name, value: value)
        }
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(body)), .end(nil)])
    }
}
