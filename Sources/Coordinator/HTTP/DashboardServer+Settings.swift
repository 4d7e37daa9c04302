import NIOCore

extension DashboardServer {
    /// Where the dashboard listens and how it bounds its clients.
    public struct Settings: Sendable {
        /// Interface to bind. The default keeps the dashboard on this machine; bind `0.0.0.0` to
        /// let operators elsewhere see it.
        public var host: String
        /// TCP port; 0 lets the OS choose one, which `DashboardServer.port` then reports.
        public var port: Int
        /// Largest request (request line, header fields and body) the server reads; a larger one
        /// is answered with 413. Dashboard requests are small GETs, so 16 KiB is ample.
        public var maximumRequestBytes: Int
        /// Connections open at once; one more is closed as soon as it is accepted. A browser
        /// opens a few and a Prometheus server one, so 64 leaves room for many viewers.
        public var maximumConnections: Int
        /// How long a connection may take to send a whole request, counted from its opening or
        /// from its last answer; then it is closed. A GET takes milliseconds, so 20 s closes
        /// only clients that stall or trickle bytes.
        public var requestTimeout: TimeAmount
        /// How long `shutdown()` lets in-flight requests finish before it closes their connections.
        public var shutdownGracePeriod: TimeAmount

        public init(host: String = "127.0.0.1", port: Int = 8080, maximumRequestBytes: Int = 16 * 1024,
                    maximumConnections: Int = 64, requestTimeout: TimeAmount = .seconds(20),
                    shutdownGracePeriod: TimeAmount = .seconds(5)) {
            self.host = host
            self.port = port
            self.maximumRequestBytes = maximumRequestBytes
            self.maximumConnections = maximumConnections
            self.requestTimeout = requestTimeout
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }
}
