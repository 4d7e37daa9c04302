extension Endpoint {
    /// Why a `HOST:PORT` text is not an endpoint, in one line.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `HOST:PORT` (`[v6-address]:PORT` for IPv6 literals), as given on command lines,
    /// in declarations and in the coordinator's list of peers.
    public init(parsing text: String) throws(ParseError) {
        let quoted = PeerText.escaped(text, maxBytes: 300)
        let host: Substring
        let port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ParseError(description: "\"\(quoted)\" needs a port: [ADDRESS]:PORT") }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ParseError(description: "\"\(quoted)\" is not HOST:PORT")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard Self.isValidHost(host) else {
            throw ParseError(description: "\"\(quoted)\" has no valid host")
        }
        guard let number = UInt16(port) else { throw ParseError(description: "\"\(quoted)\": port must be a number from 0 to 65535") }
        self.init(host: String(host), port: number)
    }

    /// Whether `host` can be a host name or address literal: 1 to `WireLimits.maxHostBytes`
    /// bytes, no whitespace and nothing `PeerText` finds unsafe, so that it prints on one line.
    public static func isValidHost(_ host: some StringProtocol) -> Bool {
        !host.isEmpty && host.utf8.count <= WireLimits.maxHostBytes
            && !host.unicodeScalars.contains { $0.properties.isWhitespace || PeerText.isUnsafe($0) }
    }
}
